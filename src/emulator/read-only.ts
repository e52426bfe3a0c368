/**
 * How a reader session is made read-only on a MariaDB (or MySQL) backend that is shared with the
 * writer. `read_only` is a global variable there and `innodb_read_only` a start-up option, so the
 * only per-session switch is the session's transaction access mode: the emulator runs
 * `SET SESSION TRANSACTION READ ONLY` right after the backend login. MariaDB 10.11 then refuses
 * every write and DDL with 1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION; the emulator passes that
 * on as 1290 ER_OPTION_PREVENTS_STATEMENT, the error an Aurora reader (read_only, innodb_read_only)
 * answers a write with.
 */
export const READ_ONLY_SESSION_STATEMENT = 'SET SESSION TRANSACTION READ ONLY';

/** What the backend answers a write with in a read-only session. */
export const BACKEND_READ_ONLY_ERRNO = 1792;

/** What an Aurora reader answers a write with. */
export const READER_WRITE_ERROR = {
  code: 1290,
  sqlState: 'HY000',
  message: 'The MySQL server is running with the --read-only option so it cannot execute this statement',
} as const;

/**
 * Statements longer than this are not rewritten: the patterns scan ahead lazily, and a session
 * statement that changes the access mode is short. Bounds the work an (authenticated) client can cause.
 */
export const MAX_GUARDED_STATEMENT_CHARS = 16 * 1024;

const ACCESS_MODE_READ_WRITE =
  /\b((?:SET\s+(?:(?:GLOBAL|SESSION|LOCAL)\s+)?|START\s+)TRANSACTION\b[^;]*?)\bREAD\s+WRITE\b/gi;
const READ_ONLY_VARIABLE_OFF =
  /((?:@@(?:SESSION\.|LOCAL\.)?)?\b(?:tx|transaction)_read_only\s*:?=\s*)(['"]?)(?:0|OFF|FALSE)\2/gi;

/**
 * A reader session must stay read-only, whatever the client asks: statements that would switch
 * the session (or the next transaction) to READ WRITE are rewritten to keep READ ONLY, so the
 * statement itself succeeds (as `SET SESSION TRANSACTION READ WRITE` does on an Aurora reader)
 * and the writes after it still fail. Returns null when the statement needs no change.
 */
export function keepReadOnly(sql: string): string | null {
  if (sql.length > MAX_GUARDED_STATEMENT_CHARS) return null;
  const rewritten = sql
    .replace(ACCESS_MODE_READ_WRITE, (_all, head: string) => `${head}READ ONLY`)
    .replace(READ_ONLY_VARIABLE_OFF, (_all, head: string) => `${head}1`);
  return rewritten === sql ? null : rewritten;
}
