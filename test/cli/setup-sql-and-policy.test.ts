import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARIADB } from '../helpers/emulator-harness.js';
import { runCli, runInProcess } from './run-cli.js';

/** This file's own database and stand-in user on the shared MariaDB. */
const DATABASE = 'rip_cli_setup_sql';
const USER = 'rip_cli_setup_sql_u';

// The documented format: arn:<partition>:rds-db:<region>:<account>:dbuser:<resource id>/<db user>.
const DBUSER_ARN =
  /^arn:aws(?:-cn|-us-gov)?:rds-db:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:dbuser:(?:db|cluster|prx)-[A-Z0-9]+\/[A-Za-z0-9_.$-]+$/;

let root: mysql.Connection;

beforeAll(async () => {
  root = await mysql.createConnection({ ...MARIADB });
  await root.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await root.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``);
  await root.query(`CREATE DATABASE \`${DATABASE}\``);
});

afterAll(async () => {
  if (!root) return;
  await root.query(`DROP USER IF EXISTS '${USER}'@'%'`);
  await root.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``);
  await root.end();
});

describe.concurrent('rds-iam-pool setup-sql', () => {
  it('prints CREATE USER ... WITH AWSAuthenticationPlugin REQUIRE SSL and the GRANT for MySQL', async () => {
    const result = await runCli(['setup-sql', '--user', 'app_iam', '--database', 'orders']);
    expect(result.code, result.stderr).toBe(0);
    const statements = result.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('--'));
    expect(statements).toEqual([
      "CREATE USER 'app_iam'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL;",
      "GRANT SELECT, INSERT, UPDATE, DELETE ON `orders`.* TO 'app_iam'@'%';",
    ]);
    expect(result.stdout).toContain("-- SELECT user, host, plugin FROM mysql.user WHERE user = 'app_iam';");
  });

  it('prints statements MariaDB parses: CREATE USER fails only for the missing plugin, the GRANT applies', async () => {
    const result = await runCli([
      'setup-sql',
      '--user',
      USER,
      '--engine',
      'mariadb',
      '--database',
      DATABASE,
      '--privileges',
      'select, insert',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const { engine, statements } = JSON.parse(result.stdout) as { engine: string; statements: string[] };
    expect(engine).toBe('mariadb');
    const [create, grant] = statements;
    expect(create).toBe(
      `CREATE USER '${USER}'@'%' IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS' REQUIRE SSL;`,
    );

    // A local MariaDB has no AWSAuthenticationPlugin: 1524 means the statement parsed (1064 would not).
    await expect(root.query(create!)).rejects.toMatchObject({ errno: 1524 });
    const mysqlFlavour = await runInProcess(['setup-sql', '--user', USER, '--json']);
    const [mysqlCreate] = (JSON.parse(mysqlFlavour.stdout) as { statements: string[] }).statements;
    await expect(root.query(mysqlCreate!)).rejects.toMatchObject({ errno: 1524 });

    // The GRANT, run for a stand-in password user of the same name, grants exactly what was asked.
    await root.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY 'stand-in-password'`);
    await root.query(grant!);
    const [grants] = await root.query<mysql.RowDataPacket[]>(`SHOW GRANTS FOR '${USER}'@'%'`);
    expect(grants.map((g) => Object.values(g)[0])).toContain(
      `GRANT SELECT, INSERT ON \`${DATABASE}\`.* TO \`${USER}\`@\`%\``,
    );
  });

  it('prints the GRANT as a comment without --database', async () => {
    const result = await runInProcess(['setup-sql', '--user', 'app_iam']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      "-- GRANT SELECT, INSERT, UPDATE, DELETE ON `your_database`.* TO 'app_iam'@'%';",
    );
  });

  it('refuses names that cannot go into SQL or an ARN, and unknown engines (exit 2)', async () => {
    const [quote, tooLong, engine] = await Promise.all([
      runInProcess(['setup-sql', '--user', "app'; DROP USER root; --"]),
      runInProcess(['setup-sql', '--user', 'a'.repeat(33)]),
      runInProcess(['setup-sql', '--user', 'app_iam', '--engine', 'postgres']),
    ]);
    expect(quote.code).toBe(2);
    expect(quote.stdout).toBe('');
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('longer than 32 characters');
    expect(engine.code).toBe(2);
    expect(engine.stderr).toContain('--engine must be mysql or mariadb');
  });
});

describe.concurrent('rds-iam-pool policy', () => {
  it('prints a policy whose resource is the rds-db dbuser ARN', async () => {
    const result = await runCli([
      'policy',
      '--region',
      'eu-west-1',
      '--account',
      '123456789012',
      '--resource-id',
      'db-ABCDEFGHIJKLMNOPQRSTUVWXY1',
      '--user',
      'app_iam',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const policy = JSON.parse(result.stdout);
    expect(policy).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: 'arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXY1/app_iam',
        },
      ],
    });
    expect(policy.Statement[0].Resource).toMatch(DBUSER_ARN);
  });

  it('lists one ARN per user, for clusters and other partitions', async () => {
    const result = await runInProcess([
      'policy',
      '--region',
      'cn-north-1',
      '--account',
      '210987654321',
      '--resource-id',
      'cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2',
      '--user',
      'app_iam',
      '--user',
      'report_iam',
      '--json',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const resources = JSON.parse(result.stdout).Statement[0].Resource as string[];
    expect(resources).toEqual([
      'arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2/app_iam',
      'arn:aws-cn:rds-db:cn-north-1:210987654321:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2/report_iam',
    ]);
    for (const arn of resources) expect(arn).toMatch(DBUSER_ARN);
  });

  it('refuses an instance name, a lower-case id and a short account id, with the fix (exit 2)', async () => {
    const base = ['policy', '--region', 'us-east-1', '--user', 'app_iam'];
    const [name, lower, account] = await Promise.all([
      runInProcess([...base, '--account', '123456789012', '--resource-id', 'mydb']),
      runInProcess([...base, '--account', '123456789012', '--resource-id', 'db-abcdef']),
      runInProcess([...base, '--account', '12345', '--resource-id', 'db-ABCDEF', '--json']),
    ]);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain('DbiResourceId');
    expect(lower.code).toBe(2);
    expect(lower.stderr).toContain('resource ids are upper case');
    expect(account.code).toBe(2);
    expect(JSON.parse(account.stdout)).toMatchObject({ ok: false, error: { kind: 'usage' } });
  });
});
