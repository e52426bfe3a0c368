/**
 * The statements the pool sends for itself (the writer check, the topology), in one place. They
 * must read the same whatever the caller configured: `rowsAsArray`, `nestTables` and `typeCast`
 * change the shape of results, so each statement sets them itself, and answers are read without
 * assuming more than "rows of values". A server that answers with something else (an OK packet
 * from a proxy, garbage) makes the statement fail quietly (undefined), never throw.
 */
import type { Connection } from 'mysql2';

/** What a pool's own statement depends on: mysql2's query API, on a pool or a plain connection. */
export type QueryableConnection = Pick<Connection, 'query'>;

/** One row as an array of its values, in column order. */
export type RowValues = unknown[];

/** The options that make a result's shape independent of the connection's configuration. */
const OWN_SHAPE = { rowsAsArray: true, nestTables: false, typeCast: true } as const;

/** What a statement of the pool's own came back with. */
export type OwnQueryResult =
  | { kind: 'rows'; rows: RowValues[] }
  /** An OK packet: a statement that returns no rows (SET), or a server that gave no rows. */
  | { kind: 'ok' }
  /** The server refused the statement with an error packet (no such table, no privilege...). */
  | { kind: 'refused'; errno: number }
  /** No usable answer: the connection failed, the statement timed out, or the answer was not rows. */
  | { kind: 'none' };

const NONE: OwnQueryResult = { kind: 'none' };

/** Runs `sql` within `timeoutMs`; never throws. */
export function runOwnQuery(
  connection: QueryableConnection,
  sql: string,
  timeoutMs: number,
): Promise<OwnQueryResult> {
  const timeout = Math.max(1, Math.ceil(timeoutMs));
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: OwnQueryResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    // mysql2's own timeout ends the command; this one also covers a connection that never runs it.
    const timer = setTimeout(() => finish(NONE), timeout);
    try {
      connection.query({ sql, timeout, ...OWN_SHAPE }, (err: unknown, rows: unknown) => {
        finish(err ? refusal(err) : asRows(rows));
      });
    } catch {
      finish(NONE);
    }
  });
}

/** The rows of `sql`, or undefined when it gave none (see runOwnQuery). */
export async function queryRows(
  connection: QueryableConnection,
  sql: string,
  timeoutMs: number,
): Promise<RowValues[] | undefined> {
  const result = await runOwnQuery(connection, sql, timeoutMs);
  return result.kind === 'rows' ? result.rows : undefined;
}

function refusal(err: unknown): OwnQueryResult {
  const { errno, fatal } = err as { errno?: unknown; fatal?: unknown };
  // A fatal error lost the connection; an error packet leaves it usable and names the statement.
  return typeof errno === 'number' && fatal !== true ? { kind: 'refused', errno } : NONE;
}

function asRows(result: unknown): OwnQueryResult {
  if (typeof result === 'object' && result !== null && 'affectedRows' in result) return { kind: 'ok' };
  if (!Array.isArray(result) || !result.every(Array.isArray)) return NONE;
  return { kind: 'rows', rows: result as RowValues[] };
}

/** Aurora's (and MySQL's) flag for an instance that takes no writes: 1 on a reader. */
export const READ_ONLY_QUERY = 'SELECT @@innodb_read_only';

/**
 * Whether the server behind `connection` is read-only (an Aurora reader, a demoted writer): true,
 * false, or undefined when it did not answer in time.
 */
export async function isReadOnly(
  connection: QueryableConnection,
  timeoutMs: number,
): Promise<boolean | undefined> {
  const rows = await queryRows(connection, READ_ONLY_QUERY, timeoutMs);
  const value = rows?.[0]?.[0];
  if (value === undefined || value === null) return undefined;
  return Number(value) !== 0;
}
