import { MAX_USER_LENGTH, parseEngine, validateUserName } from '../shared/db-user.js';
import { ExitCode, UsageError } from '../shared/failures.js';
import type { Command } from './command.js';

const DEFAULT_PRIVILEGES = 'SELECT, INSERT, UPDATE, DELETE';

export const setupSqlCommand: Command = {
  spec: {
    name: 'setup-sql',
    summary: 'print the CREATE USER / GRANT statements for an IAM database user',
    usage:
      'setup-sql --user NAME [--engine mysql|mariadb] [--database DB] [--privileges LIST] [--account-host PATTERN] [--json]',
    description: [
      'Run the output as the master user (or any user with CREATE USER and GRANT OPTION) on an ' +
        'instance or cluster with IAM database authentication enabled. The user is identified by ' +
        "AWSAuthenticationPlugin AS 'RDS' (the plugin RDS and Aurora provide; a server without it answers " +
        "ERROR 1524 Plugin 'AWSAuthenticationPlugin' is not loaded) and REQUIRE SSL, so no client can " +
        'present a token over plaintext. The name must match the DBUser in the token and the policy, case included.',
    ],
    flags: {
      user: { type: 'string', value: 'NAME', description: 'The database user to create.' },
      engine: {
        type: 'string',
        value: 'ENGINE',
        description: 'mysql (RDS MySQL, Aurora MySQL) or mariadb. Default mysql.',
      },
      database: {
        type: 'string',
        value: 'DB',
        description:
          'Grant on this database (`*` = every database). Without it the GRANT is printed as a comment.',
      },
      privileges: {
        type: 'string',
        value: 'LIST',
        description: `Comma-separated privileges to grant. Default "${DEFAULT_PRIVILEGES}".`,
      },
      'account-host': {
        type: 'string',
        value: 'PATTERN',
        description: "Host part of the account ('user'@'PATTERN'). Default % (any client host).",
      },
    },
    examples: [
      'rds-iam-pool setup-sql --user app_iam --database orders',
      'rds-iam-pool setup-sql --user app_iam --engine mariadb --database orders | mysql -h ... -u admin -p',
    ],
  },

  async run({ flags, out, json }) {
    const engine = parseEngine(flags.string('engine'));
    const user = validateUserName(flags.requiredString('user'), MAX_USER_LENGTH[engine]);
    const accountHost = parseAccountHost(flags.string('account-host') ?? '%');
    const privileges = parsePrivileges(flags.string('privileges') ?? DEFAULT_PRIVILEGES);
    const database = flags.string('database');
    const account = `${quoteString(user)}@${quoteString(accountHost)}`;

    const create =
      engine === 'mysql'
        ? `CREATE USER ${account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL;`
        : `CREATE USER ${account} IDENTIFIED VIA AWSAuthenticationPlugin USING 'RDS' REQUIRE SSL;`;
    const grant = `GRANT ${privileges} ON ${database === undefined ? '`your_database`' : grantTarget(database)}.* TO ${account};`;
    const check = `SELECT user, host, plugin FROM mysql.user WHERE user = ${quoteString(user)};`;
    const statements = database === undefined ? [create] : [create, grant];

    if (json) {
      out.json({ engine, user, accountHost, statements, check });
      return ExitCode.ok;
    }
    const engineName = engine === 'mysql' ? 'RDS for MySQL / Aurora MySQL' : 'RDS for MariaDB';
    out.line(`-- IAM database user ${user} on ${engineName}.`);
    out.line(
      '-- Run as the master user on an instance (or cluster) with IAM database authentication enabled.',
    );
    out.line(create);
    if (database === undefined) {
      out.line('-- Then grant what the application needs (pass --database to print it ready to run):');
      out.line(`-- ${grant}`);
    } else {
      out.line(grant);
    }
    out.line(`-- Check: the plugin column must read AWSAuthenticationPlugin.`);
    out.line(`-- ${check}`);
    return ExitCode.ok;
  },
};

/** A single-quoted SQL string literal; the values were validated, escaping is belt and braces. */
function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function grantTarget(database: string): string {
  if (database === '*') return '*';
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(database)) {
    throw new UsageError(
      `--database "${database}" is not a plain database name`,
      'Use letters, digits, _ - or $.',
    );
  }
  return `\`${database}\``;
}

function parseAccountHost(pattern: string): string {
  if (!/^[A-Za-z0-9.%_:-]{1,255}$/.test(pattern)) {
    throw new UsageError(
      `--account-host "${pattern}" is not a host name, IP or pattern`,
      'For example % or 10.0.%.',
    );
  }
  return pattern;
}

function parsePrivileges(list: string): string {
  const privileges = list
    .split(',')
    .map((p) => p.trim().replace(/\s+/g, ' ').toUpperCase())
    .filter((p) => p !== '');
  if (privileges.length === 0 || privileges.some((p) => !/^[A-Z][A-Z ]*$/.test(p))) {
    throw new UsageError(
      `--privileges "${list}" is not a comma-separated list of privileges`,
      `For example "${DEFAULT_PRIVILEGES}" or "ALL PRIVILEGES".`,
    );
  }
  return privileges.join(', ');
}
