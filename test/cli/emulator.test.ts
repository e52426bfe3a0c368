import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { signAuthToken } from '../../src/token/sign.js';
import { MARIADB } from '../helpers/emulator-harness.js';
import { cliEnv, jsonEvents, runInProcess, spawnCli } from './run-cli.js';

const BACKEND_URL = `mysql://${MARIADB.user}@${MARIADB.host}:${MARIADB.port}`;

interface ReadyLine {
  event: 'ready';
  endpoint: { host: string; port: number; region: string };
  listen: { host: string; port: number };
  caFile: string;
  users: Record<string, string>;
  env: { AWS_ACCESS_KEY_ID: string; AWS_SECRET_ACCESS_KEY: string };
}

describe('rds-iam-pool emulator', () => {
  it('prints its endpoint, CA and credentials, relays an IAM login, and exits 0 on SIGINT', async () => {
    const child = spawnCli(['emulator', '--backend', BACKEND_URL, '--user', 'cli_emu_iam', '--json']);
    const { nextEvent, exited } = jsonEvents(child);
    try {
      const ready = (await nextEvent()) as unknown as ReadyLine;
      expect(ready).toMatchObject({
        event: 'ready',
        endpoint: { host: 'mydb.abc123.us-east-1.rds.amazonaws.com', port: 3306, region: 'us-east-1' },
        listen: { host: '127.0.0.1' },
        users: { cli_emu_iam: MARIADB.user },
      });
      expect(ready.env.AWS_ACCESS_KEY_ID).toMatch(/^AKIAEMULATOR[0-9A-F]{8}$/);
      const ca = await readFile(ready.caFile, 'utf8');
      expect(ca).toContain('-----BEGIN CERTIFICATE-----');

      // Log in once the way a user following the printed instructions would: sign with the printed keys.
      const token = await signAuthToken({
        hostname: ready.endpoint.host,
        port: ready.endpoint.port,
        username: 'cli_emu_iam',
        region: ready.endpoint.region,
        credentials: {
          accessKeyId: ready.env.AWS_ACCESS_KEY_ID,
          secretAccessKey: ready.env.AWS_SECRET_ACCESS_KEY,
        },
      });
      const connection = await mysql.createConnection({
        host: ready.endpoint.host,
        port: ready.endpoint.port,
        user: 'cli_emu_iam',
        stream: () => connect(ready.listen.port, ready.listen.host),
        ssl: { ca, rejectUnauthorized: true, verifyIdentity: true },
        authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      });
      try {
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT CURRENT_USER() AS u');
        expect(String(rows[0]?.u)).toMatch(new RegExp(`^${MARIADB.user}@`));
      } finally {
        await connection.end();
      }
      expect(await nextEvent()).toMatchObject({ event: 'login-accepted', count: 1 });

      child.kill('SIGINT');
      expect(await nextEvent()).toMatchObject({
        event: 'stopped',
        signal: 'SIGINT',
        stats: { loginsAccepted: 1 },
      });
      expect(await exited).toBe(0);
      // The CA lived in a temporary directory of its own, removed on exit.
      expect(existsSync(dirname(ready.caFile))).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('exits 2 without --backend and 1 when the backend does not answer', async () => {
    const [usage, unreachable] = await Promise.all([
      runInProcess(['emulator']),
      runInProcess(['emulator', '--backend', 'mysql://root@127.0.0.1:1']),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--backend is required');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('The emulator could not start');
    expect(unreachable.stderr).toContain('did not answer');
  });

  it('refuses to start (exit 1, no "running" banner) when the --backend password is wrong', async () => {
    const wrong = `mysql://${MARIADB.user}:not-the-password@${MARIADB.host}:${MARIADB.port}`;
    const result = await runInProcess(['emulator', '--backend', wrong]);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('running');
    expect(result.stderr).toContain('The emulator could not start');
    expect(result.stderr).toContain(`refused the emulator's login as '${MARIADB.user}'`);
    expect(result.stderr).toContain('--backend mysql://USER:PASSWORD@HOST:PORT');
    expect(result.stderr).not.toContain('not-the-password');
  });
});

describe('rds-iam-pool emulator banner', () => {
  it('suggests commands that work without a global install (npx rds-iam-pool ...)', async () => {
    const child = spawnCli(['emulator', '--backend', BACKEND_URL]);
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      let banner = '';
      for await (const line of createInterface({ input: child.stdout! })) {
        banner += `${line}\n`;
        if (line.includes('stops it.')) break;
      }
      expect(banner).toContain('RDS IAM emulator running');
      expect(banner).toMatch(/^ {2}npx rds-iam-pool doctor --hostname /m);
      expect(banner).toContain('--password="$(npx rds-iam-pool token --hostname ');
      expect(banner).not.toMatch(/^ {2}rds-iam-pool /m);
      // What an application sets to reach it, with the port and CA file of this run.
      expect(banner).toMatch(
        /^ {2}\{ host: 'mydb\.abc123\.us-east-1\.rds\.amazonaws\.com', port: 3306, user: 'app_iam', connectHost: '127\.0\.0\.1', connectPort: \d+, ssl: \{ ca: readFileSync\('\/.+\/ca\.pem', 'utf8'\) \} \}$/m,
      );
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('rds-iam-pool emulator --cluster', () => {
  it('prints every endpoint, serves them, and fails over when asked on stdin', async () => {
    const child = spawnCli(
      [
        'emulator',
        '--backend',
        BACKEND_URL,
        '--user',
        'cli_cluster_iam',
        '--cluster',
        '--engine',
        'mysql8.4',
        '--promotion-ms',
        '300',
        '--dns-lag-ms',
        '300',
        '--json',
      ],
      cliEnv(),
      { stdin: 'pipe' },
    );
    const { nextEvent, exited } = jsonEvents(child);
    try {
      const ready = (await nextEvent()) as unknown as ReadyLine & {
        engine: { name: string; greetingAuthPlugin: string };
        cluster: {
          endpoints: Array<{ kind: string; host: string; port: number; instanceId?: string; role?: string }>;
        };
      };
      expect(ready.engine).toMatchObject({ name: 'mysql8.4', greetingAuthPlugin: 'caching_sha2_password' });
      expect(ready.endpoint.host).toBe('mydb.cluster-abc123.us-east-1.rds.amazonaws.com');
      expect(ready.cluster.endpoints.map((e) => [e.kind, e.instanceId ?? null, e.role ?? null])).toEqual([
        ['cluster', null, null],
        ['reader', null, null],
        ['instance', 'mydb-instance-1', 'writer'],
        ['instance', 'mydb-instance-2', 'reader'],
        ['instance', 'mydb-instance-3', 'reader'],
      ]);
      const reader = ready.cluster.endpoints[1]!;
      expect(reader.host).toBe('mydb.cluster-ro-abc123.us-east-1.rds.amazonaws.com');
      const ca = await readFile(ready.caFile, 'utf8');

      const token = await signAuthToken({
        hostname: reader.host,
        port: ready.endpoint.port,
        username: 'cli_cluster_iam',
        region: ready.endpoint.region,
        credentials: {
          accessKeyId: ready.env.AWS_ACCESS_KEY_ID,
          secretAccessKey: ready.env.AWS_SECRET_ACCESS_KEY,
        },
      });
      const connection = await mysql.createConnection({
        host: reader.host,
        port: ready.endpoint.port,
        user: 'cli_cluster_iam',
        stream: () => connect(reader.port, ready.listen.host),
        ssl: { ca, rejectUnauthorized: true, verifyIdentity: true },
        authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      });
      try {
        const [rows] = await connection.query<mysql.RowDataPacket[]>(
          'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
        );
        expect(rows[0]).toEqual({ id: 'mydb-instance-2', ro: 1 });
      } finally {
        await connection.end();
      }
      expect(await nextEvent()).toMatchObject({ event: 'login-accepted', count: 1 });

      child.stdin!.write('fail over please\n');
      expect(await nextEvent()).toMatchObject({ event: 'unknown-command' });
      child.stdin!.write('failover mydb-instance-3\n');
      const phases = [await nextEvent(), await nextEvent(), await nextEvent()].map((e) => [e.event, e.to]);
      // Polled every 200 ms: phases close together may arrive in one poll, but always in this order.
      expect(phases).toEqual([
        ['failover-started', 'mydb-instance-3'],
        ['failover-promoted', 'mydb-instance-3'],
        ['failover-completed', 'mydb-instance-3'],
      ]);

      child.kill('SIGINT');
      const stopped = await nextEvent();
      expect(stopped).toMatchObject({ event: 'stopped', signal: 'SIGINT' });
      expect((stopped.stats as { cluster: { writer: string } }).cluster.writer).toBe('mydb-instance-3');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('adds, fails, recovers and removes readers when asked on stdin', async () => {
    const child = spawnCli(
      [
        'emulator',
        '--backend',
        BACKEND_URL,
        '--cluster',
        '--outage',
        'refuse',
        '--reader-ttl-ms',
        '0',
        '--json',
      ],
      cliEnv(),
      { stdin: 'pipe' },
    );
    const { nextEvent, exited } = jsonEvents(child);
    try {
      expect(await nextEvent()).toMatchObject({ event: 'ready' });
      child.stdin!.write('add-reader\n');
      const added = await nextEvent();
      expect(added).toMatchObject({
        event: 'reader-added',
        instanceId: 'mydb-instance-4',
        host: 'mydb-instance-4.abc123.us-east-1.rds.amazonaws.com',
      });
      child.stdin!.write('fail-reader mydb-instance-2 refuse\n');
      expect(await nextEvent()).toEqual({ event: 'reader-failed', id: 'mydb-instance-2' });
      child.stdin!.write('recover-reader mydb-instance-2\n');
      expect(await nextEvent()).toEqual({ event: 'reader-recovered', id: 'mydb-instance-2' });
      child.stdin!.write('remove-reader mydb-instance-1\n');
      expect(await nextEvent()).toMatchObject({ event: 'cluster-change-refused', message: /is the writer/ });
      child.stdin!.write('remove-reader mydb-instance-4\n');
      expect(await nextEvent()).toEqual({ event: 'reader-removed', id: 'mydb-instance-4' });
      child.stdin!.write('fail-reader\n');
      expect(await nextEvent()).toMatchObject({ event: 'unknown-command', message: /add-reader/ });

      child.kill('SIGINT');
      const stopped = await nextEvent();
      const instances = (stopped.stats as { cluster: { instances: Array<{ id: string }> } }).cluster
        .instances;
      expect(instances.map((i) => i.id)).toEqual(['mydb-instance-1', 'mydb-instance-2', 'mydb-instance-3']);
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses cluster flags without --cluster, an unknown --engine and an unknown --outage (exit 2)', async () => {
    const [instances, engine, outage, shape] = await Promise.all([
      runInProcess(['emulator', '--backend', BACKEND_URL, '--instances', '4']),
      runInProcess(['emulator', '--backend', BACKEND_URL, '--engine', 'postgres']),
      runInProcess(['emulator', '--backend', BACKEND_URL, '--outage', 'refuse']),
      runInProcess(['emulator', '--backend', BACKEND_URL, '--cluster', '--outage', 'sideways']),
    ]);
    expect(instances.code).toBe(2);
    expect(instances.stderr).toContain('--instances needs --cluster');
    expect(engine.code).toBe(2);
    expect(engine.stderr).toContain('--engine must be one of mysql8.0, mysql8.4, mariadb');
    expect(outage.code).toBe(2);
    expect(outage.stderr).toContain('--outage needs --cluster');
    expect(shape.code).toBe(2);
    expect(shape.stderr).toContain('--outage must be one of refuse, tls-cut');
  });
});
