import { createHash } from 'node:crypto';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import type { BackendAccount, BackendAddress } from './backend.js';
import { EmulatorError } from './errors.js';

/**
 * Reader sessions are read-only because of who they are on the backend, not because of what they
 * may send: each one logs in to MariaDB/MySQL as an account that holds only the read privileges of
 * the backend account its IAM user maps to (a "reader account"). No statement, prepared statement,
 * session variable or protocol command gives an account privileges it does not have (the one command
 * that changes the account, COM_CHANGE_USER, is refused on reader sessions by the relay).
 *
 * The emulator creates and maintains that account itself when its backend login may (CREATE USER
 * and GRANT OPTION), as `rdsiam_ro_<16 hex digits of a hash of the account>` on the same host
 * pattern, with a password derived from the backend account's: deterministic, so emulators started
 * side by side for the same backend account agree on it, and reused by the next start. Or the caller
 * names a reader account of its own (`users[...].readerBackendUser`), which is checked to hold no
 * privilege beyond the read set.
 */

type Level = 'global' | 'schema' | 'table' | 'column';

/** One privilege row of information_schema.{USER,SCHEMA,TABLE,COLUMN}_PRIVILEGES. */
interface Privilege {
  level: Level;
  privilege: string;
  schema: string;
  table: string;
  column: string;
}

/**
 * The privileges a reader account may hold, per level: reading (tables, views, the list of
 * databases and of sessions) and temporary tables, which Aurora MySQL 3 readers allow (a user-created
 * temporary table belongs to the session; MariaDB checks no privilege on it after CREATE). Not
 * EXECUTE (a routine with SQL SECURITY DEFINER writes with its definer's privileges) nor LOCK TABLES.
 */
const READ_PRIVILEGES: Record<Level, ReadonlySet<string>> = {
  global: new Set(['SELECT', 'SHOW VIEW', 'CREATE TEMPORARY TABLES', 'SHOW DATABASES', 'PROCESS']),
  schema: new Set(['SELECT', 'SHOW VIEW', 'CREATE TEMPORARY TABLES']),
  table: new Set(['SELECT', 'SHOW VIEW']),
  column: new Set(['SELECT']),
};

const isRead = (p: Privilege) => p.privilege === 'USAGE' || READ_PRIVILEGES[p.level].has(p.privilege);

/** Where the backend account could write: what a privilege error of its reader account is about. */
export interface WriteScope {
  /** A global privilege beyond reading (INSERT ON *.*, ALL PRIVILEGES...): it could write anywhere. */
  global: boolean;
  /** Database names (or LIKE patterns, as granted) it holds a privilege beyond reading in. */
  schemas: readonly string[];
}

/** What reader sessions of one backend account log in as. */
export interface ReaderAccount extends BackendAccount {
  /** The backend account (the writer's) it reads for. */
  backendUser: string;
  /** The host part of the reader account (the backend account's, for one the emulator manages). */
  host: string;
  /** Created and kept up to date by the emulator (false: named by the caller). */
  managed: boolean;
  writeScope: WriteScope;
}

/** A reader account as `emulator.cluster.readerAccounts` shows it (no password). */
export interface ReaderAccountInfo {
  /** The backend account whose sessions on a writer run as itself. */
  backendUser: string;
  /** The account its sessions on a reader run as (`CURRENT_USER()` there). */
  user: string;
  host: string;
  /** Created and maintained by the emulator; false for one named by `users[...].readerBackendUser`. */
  managed: boolean;
}

export interface ReaderAccountRequest {
  /** The backend account the IAM user's sessions log in as. */
  account: BackendAccount;
  /** A reader account the caller created, instead of one the emulator manages. */
  given?: BackendAccount;
}

/** The name of the reader account the emulator manages for `user@host`. */
export function managedReaderUser(user: string, host: string): string {
  return `rdsiam_ro_${createHash('sha256').update(`${user}@${host}`).digest('hex').slice(0, 16)}`;
}

function managedReaderPassword(user: string, host: string, password: string): string {
  return createHash('sha256')
    .update(`rds-iam-emulator reader account\0${user}\0${host}\0${password}`)
    .digest('hex')
    .slice(0, 32);
}

/** The key a request's reader account is found under. */
export function readerAccountKey(request: ReaderAccountRequest): string {
  const { account, given } = request;
  return [account.user, account.password, given?.user ?? '', given?.password ?? ''].join('\0');
}

const quoteId = (name: string) => `\`${name.replace(/`/g, '``')}\``;

function grantTarget(p: Privilege): string {
  if (p.level === 'global') return '*.*';
  if (p.level === 'schema') return `${quoteId(p.schema)}.*`;
  return `${quoteId(p.schema)}.${quoteId(p.table)}`;
}

/** `SELECT (col)` for a column privilege; the privilege names come from READ_PRIVILEGES only. */
const privilegeClause = (p: Privilege) =>
  p.level === 'column' ? `${p.privilege} (${quoteId(p.column)})` : p.privilege;

const privilegeKey = (p: Privilege) => [p.level, p.privilege, p.schema, p.table, p.column].join('\0');

export class ReaderAccounts {
  private constructor(
    private readonly accounts: Map<string, ReaderAccount>,
    private readonly admin: BackendAddress & BackendAccount,
    private readonly options: { mariadb: boolean; timeoutMs: number },
  ) {}

  /**
   * Prepares (creates, updates, or checks) the reader account of every request. Runs at start-up in
   * cluster mode; throws EmulatorError EMULATOR_READER_ACCOUNT when it cannot.
   */
  static async prepare(
    admin: BackendAddress & BackendAccount,
    requests: readonly ReaderAccountRequest[],
    options: { mariadb: boolean; timeoutMs: number },
  ): Promise<ReaderAccounts> {
    const unique = new Map(requests.map((r) => [readerAccountKey(r), r]));
    const accounts = new Map<string, ReaderAccount>();
    const self = new ReaderAccounts(accounts, admin, options);
    // One at a time: they may share the admin's privileges and the grant tables.
    for (const [key, request] of unique) accounts.set(key, await self.prepareOne(request));
    return self;
  }

  get(request: ReaderAccountRequest): ReaderAccount | undefined {
    return this.accounts.get(readerAccountKey(request));
  }

  list(): ReaderAccountInfo[] {
    return [...this.accounts.values()].map((a) => ({
      backendUser: a.backendUser,
      user: a.user,
      host: a.host,
      managed: a.managed,
    }));
  }

  /**
   * Sets a managed reader account's password again (a reader session may have changed it with SET
   * PASSWORD, which needs no privilege for one's own account). Resolves false for one the caller owns.
   */
  async repair(account: ReaderAccount): Promise<boolean> {
    if (!account.managed) return false;
    const admin = await this.connect(this.admin, 'the emulator backend login');
    try {
      await admin.query(this.alterUserSql(), [account.user, account.host, account.password]);
      return true;
    } finally {
      await admin.end().catch(() => {});
    }
  }

  private async prepareOne(request: ReaderAccountRequest): Promise<ReaderAccount> {
    const own = await this.connect(request.account, `'${request.account.user}'`);
    let identity: { user: string; host: string };
    let privileges: Privilege[];
    try {
      identity = await currentUser(own);
      privileges = await privilegesOf(own, identity);
    } finally {
      await own.end().catch(() => {});
    }
    const writeScope = writeScopeOf(privileges);
    if (request.given) return this.checkGiven(request.given, identity.user, writeScope);

    const user = managedReaderUser(identity.user, identity.host);
    const password = managedReaderPassword(identity.user, identity.host, request.account.password);
    const account: ReaderAccount = {
      user,
      password,
      host: identity.host,
      backendUser: identity.user,
      managed: true,
      writeScope,
    };
    const wanted = privileges.filter(
      (p) => p.privilege !== 'USAGE' && READ_PRIVILEGES[p.level].has(p.privilege),
    );
    const admin = await this.connect(this.admin, 'the emulator backend login');
    try {
      await this.run(admin, account, this.createUserSql(), [user, identity.host, password]);
      await this.run(admin, account, this.alterUserSql(), [user, identity.host, password]);
      const held = await this.privilegesHeldBy(account);
      const heldKeys = new Set(held.map(privilegeKey));
      const wantedKeys = new Set(wanted.map(privilegeKey));
      for (const p of wanted.filter((w) => !heldKeys.has(privilegeKey(w)))) {
        await this.run(admin, account, `GRANT ${privilegeClause(p)} ON ${grantTarget(p)} TO ?@?`, [
          user,
          identity.host,
        ]);
      }
      // Whatever it holds beyond that (the backend account lost a privilege since the last start, or
      // someone granted it more) goes, so it reads exactly what the backend account reads.
      for (const p of held.filter((h) => h.privilege !== 'USAGE' && !wantedKeys.has(privilegeKey(h)))) {
        const clause = p.level === 'column' ? `${p.privilege} (${quoteId(p.column)})` : p.privilege;
        await this.run(admin, account, `REVOKE ${clause} ON ${grantTarget(p)} FROM ?@?`, [
          user,
          identity.host,
        ]);
      }
    } finally {
      await admin.end().catch(() => {});
    }
    return account;
  }

  private async checkGiven(
    given: BackendAccount,
    backendUser: string,
    writeScope: WriteScope,
  ): Promise<ReaderAccount> {
    const conn = await this.connect(given, `the reader account '${given.user}'`);
    try {
      const identity = await currentUser(conn);
      const writes = (await privilegesOf(conn, identity)).filter((p) => !isRead(p));
      if (writes.length > 0) {
        const named = writes.slice(0, 3).map((p) => `${p.privilege} ON ${grantTarget(p)}`);
        throw new EmulatorError(
          'EMULATOR_READER_ACCOUNT',
          `The reader account '${given.user}' can write (${named.join(', ')}${writes.length > 3 ? ', ...' : ''}); reader sessions must not be able to`,
          `Grant it only ${[...READ_PRIVILEGES.schema].join(', ')} (and SHOW DATABASES, PROCESS globally), or leave readerBackendUser out and let the emulator create one.`,
        );
      }
      return { ...given, host: identity.host, backendUser, managed: false, writeScope };
    } finally {
      await conn.end().catch(() => {});
    }
  }

  private async privilegesHeldBy(account: ReaderAccount): Promise<Privilege[]> {
    const conn = await this.connect(account, `the reader account '${account.user}'`);
    try {
      return await privilegesOf(conn, { user: account.user, host: account.host });
    } finally {
      await conn.end().catch(() => {});
    }
  }

  private createUserSql(): string {
    return this.options.mariadb
      ? 'CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?'
      : 'CREATE USER IF NOT EXISTS ?@? IDENTIFIED WITH mysql_native_password BY ?';
  }

  private alterUserSql(): string {
    return this.options.mariadb
      ? 'ALTER USER ?@? IDENTIFIED BY ?'
      : 'ALTER USER ?@? IDENTIFIED WITH mysql_native_password BY ?';
  }

  /** Runs one statement of the set-up as the admin; a refusal names what the admin lacks. */
  private async run(conn: Connection, account: ReaderAccount, sql: string, values: unknown[]): Promise<void> {
    try {
      await conn.query(sql, values);
    } catch (err) {
      const e = err as { code?: string; errno?: number; sqlMessage?: string };
      throw new EmulatorError(
        'EMULATOR_READER_ACCOUNT',
        `The emulator's backend login '${this.admin.user}' could not set up the read-only account '${account.user}'@'${account.host}' that reader sessions of '${account.backendUser}' log in as (${e.errno ?? e.code ?? 'error'}: ${e.sqlMessage ?? (err as Error).message})`,
        `Reader sessions are read-only because they run as an account with read privileges only. Let the backend login create it (GRANT CREATE USER ON *.* and the backend account's SELECT privileges WITH GRANT OPTION), or create a read-only account yourself and name it: users[...].readerBackendUser / readerBackendPassword (CLI: --reader-user IAM_USER:READER_USER:READER_PASSWORD).`,
        { cause: err },
      );
    }
  }

  private async connect(account: BackendAccount, who: string): Promise<Connection> {
    try {
      return await mysql.createConnection({
        host: this.admin.host,
        port: this.admin.port,
        user: account.user,
        password: account.password,
        connectTimeout: this.options.timeoutMs,
        // Results as plain strings: nothing here depends on a caller's or the server's type mapping.
        rowsAsArray: false,
        supportBigNumbers: true,
        bigNumberStrings: true,
      });
    } catch (err) {
      const e = err as { errno?: number; sqlMessage?: string };
      throw new EmulatorError(
        e.errno === undefined ? 'EMULATOR_BACKEND_UNREACHABLE' : 'EMULATOR_READER_ACCOUNT',
        `The emulator could not log in to the backend at ${this.admin.host}:${this.admin.port} as ${who} to prepare read-only reader sessions (${e.errno ?? ''}${e.errno === undefined ? '' : ': '}${e.sqlMessage ?? (err as Error).message})`,
        e.errno === undefined
          ? `Start the MySQL / MariaDB server at ${this.admin.host}:${this.admin.port}.`
          : 'Check the password given for that account (a reader account the emulator manages has its password reset at every start).',
        { cause: err },
      );
    }
  }
}

/** `user@host` of the session's account, split at the last `@` (host names have none). */
async function currentUser(conn: Connection): Promise<{ user: string; host: string }> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT CURRENT_USER() AS me');
  const me = String(rows[0]?.me ?? '');
  const at = me.lastIndexOf('@');
  return { user: me.slice(0, at), host: me.slice(at + 1) };
}

/**
 * The account's own privileges, from information_schema (which lists a user's own grants to that
 * user; an admin sees everyone's, hence the filter). Privileges held through roles are not included.
 */
async function privilegesOf(
  conn: Connection,
  identity: { user: string; host: string },
): Promise<Privilege[]> {
  const grantee = `'${identity.user.replace(/'/g, "''")}'@'${identity.host.replace(/'/g, "''")}'`;
  const [rows] = await conn.query<RowDataPacket[]>(
    `SELECT 'global' AS level, PRIVILEGE_TYPE AS privilege, '' AS schema_name, '' AS table_name, '' AS column_name
       FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ?
     UNION ALL SELECT 'schema', PRIVILEGE_TYPE, TABLE_SCHEMA, '', ''
       FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ?
     UNION ALL SELECT 'table', PRIVILEGE_TYPE, TABLE_SCHEMA, TABLE_NAME, ''
       FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ?
     UNION ALL SELECT 'column', PRIVILEGE_TYPE, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME
       FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ?`,
    [grantee, grantee, grantee, grantee],
  );
  return rows.map((r) => ({
    level: String(r.level) as Level,
    privilege: String(r.privilege).toUpperCase(),
    schema: String(r.schema_name),
    table: String(r.table_name),
    column: String(r.column_name),
  }));
}

function writeScopeOf(privileges: readonly Privilege[]): WriteScope {
  const writes = privileges.filter((p) => !isRead(p));
  return {
    global: writes.some((p) => p.level === 'global'),
    schemas: [...new Set(writes.filter((p) => p.level !== 'global').map((p) => p.schema))],
  };
}
