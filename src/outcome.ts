/**
 * What a failed request means for retrying it: whether the statement reached the server, and
 * whether running it again can help. Works on the errors mysql2 and this library raise, and on the
 * errors ORMs wrap them in (Drizzle's `cause`, Sequelize's `parent`, TypeORM's `driverError`).
 */
import {
  IamAcquireTimeoutError,
  IamAuthError,
  IamConnectError,
  IamCredentialsError,
  IamTransactionOutcomeUnknownError,
} from './errors.js';
import { deliveryOf } from './mysql2-boundary.js';
import { classifyConnectError } from './retry.js';

/**
 * - `'not-sent'`: the statement never reached the server (no connection could be had, or the
 *   connection was lost before it was sent): it did not run.
 * - `'unknown'`: it was sent and the connection was lost before the answer: it may have run (a
 *   COMMIT in flight may have committed).
 * - `'answered'`: the server answered with an error: the statement did not take effect (a
 *   transaction it was part of is still open, unless the error ended it).
 */
export type RequestOutcome = 'not-sent' | 'unknown' | 'answered';

/** Server errors after which running the same work again, on a new connection, can succeed. */
const RETRYABLE_ANSWERS = new Set([
  1290, // ER_OPTION_PREVENTS_STATEMENT: a demoted Aurora writer (--read-only)
  1836, // ER_READ_ONLY_MODE
  1792, // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  1213, // ER_LOCK_DEADLOCK: the server rolled the transaction back
]);

/** The database error inside `error`: itself, or what an ORM wrapped (cause, parent, original, driverError). */
function databaseError(error: unknown): object | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as Record<string, unknown>;
    if (current instanceof IamAuthError || typeof e.errno === 'number' || typeof e.fatal === 'boolean')
      return current;
    if (deliveryOf(current) !== undefined) return current;
    current = e.driverError ?? e.original ?? e.parent ?? e.cause;
  }
  return undefined;
}

/**
 * Whether the failed request reached the server (see RequestOutcome); undefined for an error that
 * is not a database error (the application's own).
 */
export function requestOutcome(error: unknown): RequestOutcome | undefined {
  const e = databaseError(error);
  if (e === undefined) return undefined;
  const delivery = deliveryOf(e);
  if (delivery !== undefined) return delivery;
  // withTransaction's COMMIT whose answer was lost: the transaction may have committed.
  if (e instanceof IamTransactionOutcomeUnknownError) return 'unknown';
  // Our other errors come from borrowing or connecting: nothing was sent.
  if (e instanceof IamAuthError) return 'not-sent';
  // A lost connection the pool did not watch (a streamed query, a connection it did not open).
  if ((e as { fatal?: unknown }).fatal === true) return 'unknown';
  return typeof (e as { errno?: unknown }).errno === 'number' ? 'answered' : undefined;
}

/**
 * Whether running the same request again, on a new connection, is both safe (it did not run) and
 * worth it (the cause can pass): no connection within the acquire timeout, a connection lost before
 * the statement was sent, a network failure or an expired credential while connecting, a demoted
 * writer's read-only error, a deadlock. Never for an outcome that is unknown, and never for an error
 * no retry fixes (bad options, TLS, access denied, the pool closed).
 */
export function isSafeToRetry(error: unknown): boolean {
  const e = databaseError(error);
  if (e === undefined) return false;
  const outcome = requestOutcome(e);
  if (outcome === 'unknown') return false;
  if (outcome === 'answered') return RETRYABLE_ANSWERS.has((e as { errno: number }).errno);
  if (e instanceof IamConnectError) return classifyConnectError(e.cause ?? e) !== 'final';
  if (e instanceof IamAuthError)
    return e instanceof IamAcquireTimeoutError || e instanceof IamCredentialsError;
  return outcome === 'not-sent';
}
