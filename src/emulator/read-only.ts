import type { WriteScope } from './reader-accounts.js';

/**
 * How a reader's refusal of a write reads. A reader session runs on the backend as an account with
 * read privileges only (reader-accounts.ts), so the backend refuses a write with a privilege error;
 * an Aurora reader (read_only, innodb_read_only, checked before privileges) answers every write with
 * 1290 ER_OPTION_PREVENTS_STATEMENT instead. The relay turns the first into the second.
 */
export const READER_WRITE_ERROR = {
  code: 1290,
  sqlState: 'HY000',
  message: 'The MySQL server is running with the --read-only option so it cannot execute this statement',
} as const;

/** ER_TABLEACCESS_DENIED_ERROR / ER_COLUMNACCESS_DENIED_ERROR: `<PRIVILEGE> command denied to user ...`. */
const TABLE_ACCESS_DENIED = new Set([1142, 1143]);
/** ER_DBACCESS_DENIED_ERROR: `Access denied for user ... to database '<name>'`. */
const DB_ACCESS_DENIED = 1044;
/** ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: a write in a transaction the client itself made READ ONLY. */
const READ_ONLY_TRANSACTION = 1792;
/** The privilege named by a 1142/1143 that is about reading, not writing. */
const READ_COMMANDS = new Set(['SELECT', 'SHOW VIEW']);

/**
 * Whether an ERR packet a reader session got from the backend is a write refused for want of a
 * privilege, to be answered as Aurora's read-only error:
 *
 * - 1142/1143 naming a privilege other than SELECT / SHOW VIEW (INSERT, UPDATE, DELETE, CREATE,
 *   DROP, ALTER, INDEX, CREATE VIEW...; NEXTVAL and ANALYZE need INSERT): Aurora refuses the write as
 *   read-only before looking at privileges, so this holds even where the writer would refuse it too;
 * - 1044 for a database the backend account could write in (CREATE / DROP DATABASE, CREATE
 *   PROCEDURE, LOCK TABLES, GRANT there); a 1044 for a database it cannot use at all passes as is;
 * - 1792, a write in a transaction the client started READ ONLY.
 *
 * Other errors (1227 for CREATE USER, SET GLOBAL, FLUSH: privileges no reader account has) pass.
 */
export function isReaderWriteRefusal(errPayload: Buffer, scope: WriteScope): boolean {
  if (errPayload.length < 3 || errPayload[0] !== 0xff) return false;
  const errno = errPayload.readUInt16LE(1);
  if (errno === READ_ONLY_TRANSACTION) return true;
  if (!TABLE_ACCESS_DENIED.has(errno) && errno !== DB_ACCESS_DENIED) return false;
  // ERR: 0xff, errno (2), '#', SQLSTATE (5), message.
  const message = errPayload.subarray(errPayload[3] === 0x23 ? 9 : 3).toString('utf8');
  if (errno !== DB_ACCESS_DENIED) {
    const command = /^([A-Z][A-Z ]*?) command denied/.exec(message)?.[1];
    return command !== undefined && !READ_COMMANDS.has(command);
  }
  const database = /to database '(.*)'$/.exec(message)?.[1];
  if (database === undefined) return false;
  return scope.global || scope.schemas.some((pattern) => likeMatches(pattern, database));
}

/** MySQL's LIKE for database grants: `%` any run, `_` one character, `\` escapes. */
function likeMatches(pattern: string, name: string): boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 's').test(name);
}

function escapeRegExp(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
