import type { Pool, PoolConnection } from 'mysql2/promise';
import { IamTransactionOutcomeUnknownError } from './errors.js';
import { isSafeToRetry, requestOutcome } from './outcome.js';

export interface TransactionOptions {
  /**
   * Attempts in all, the first included. Default 3: a failover costs one (the connection it cut),
   * and the pool's own waiting absorbs the outage itself.
   */
  attempts?: number;
}

/** A pool withTransaction can borrow from: an IamPool, or any mysql2/promise pool. */
export type TransactionPool = Pick<Pool, 'getConnection'>;

/**
 * Runs `body` in a transaction on a connection of `pool` and commits it. When the attempt fails in a
 * way that is known not to have committed anything, it runs `body` again, in a new transaction on a
 * new connection, up to `attempts` times:
 *
 * - no connection could be had (an acquire timeout, a connect failure),
 * - the connection was lost before COMMIT was sent (the server rolls back an open transaction
 *   whose connection is gone),
 * - a statement hit a demoted writer's read-only error, or a deadlock.
 *
 * It never runs `body` again when COMMIT was sent and the connection was lost before the answer:
 * the transaction may have committed, and the caller gets IamTransactionOutcomeUnknownError. An
 * error of `body`'s own (or any other) rolls back and is thrown as it is.
 *
 * `body` may run more than once: keep side effects outside the database (sending mail, calling
 * other services) out of it, or make them idempotent. A statement that commits implicitly (DDL)
 * ends the transaction early and is not covered.
 */
export async function withTransaction<T>(
  pool: TransactionPool,
  body: (connection: PoolConnection) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(
      `withTransaction: attempts must be an integer of at least 1, got ${String(attempts)}`,
    );
  }
  for (let attempt = 1; ; attempt++) {
    const last = attempt === attempts;
    let connection: PoolConnection;
    try {
      connection = await pool.getConnection();
    } catch (error) {
      if (!last && isSafeToRetry(error)) continue;
      throw error;
    }
    let committing = false;
    try {
      await connection.beginTransaction();
      const result = await body(connection);
      committing = true;
      await connection.commit();
      connection.release();
      return result;
    } catch (error) {
      await rollBack(connection);
      const outcome = requestOutcome(error);
      if (committing && outcome === 'unknown') throw new IamTransactionOutcomeUnknownError(error);
      // Before COMMIT, a lost connection took the open transaction with it: nothing was committed.
      const nothingCommitted = outcome === 'not-sent' || (!committing && outcome === 'unknown');
      if (!last && (nothingCommitted || isSafeToRetry(error))) continue;
      throw error;
    }
  }
}

/** Rolls back if the connection still answers, and gives it back; destroys it if it does not. */
async function rollBack(connection: PoolConnection): Promise<void> {
  try {
    await connection.rollback();
    connection.release();
  } catch {
    connection.destroy();
  }
}
