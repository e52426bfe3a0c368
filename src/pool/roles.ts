import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { RetirementReason } from '../diagnostics.js';
import { isReadOnly } from './own-queries.js';

/**
 * Errors a statement gets on a server that is read-only: Aurora's demoted writer (1290
 * ER_OPTION_PREVENTS_STATEMENT, "--read-only"), MySQL/MariaDB read-only mode (1836
 * ER_READ_ONLY_MODE) and a read-only transaction (1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION).
 * The same three mysql2's own pool.query() destroys a connection on.
 */
export const READ_ONLY_ERRNOS: ReadonlySet<number> = new Set([1290, 1836, 1792]);

/** Why a connection that was checked must not be handed out, or undefined when it may. */
export type RoleCheckResult = RetirementReason | undefined;

/**
 * Which connections may serve the pool's callers, by the role of the server they reached.
 *
 * - With `verifyWriter`, every new connection is asked whether it reached the writer before any
 *   caller sees it: the cluster endpoint's DNS record can lead to the old, now read-only, writer for
 *   a while after a failover, and a pool that was idle through one has no other way to know.
 * - A statement that failed with a read-only error marks its connection for the same check before
 *   it serves again: a demoted writer is retired, but `SIGNAL SQLSTATE ... 1290` or a
 *   `START TRANSACTION READ ONLY` on the writer is not a failover, and the connection stays.
 * - Connections the pool moves off an instance (the writer changed) are retired when next seen.
 */
export class ConnectionRoles {
  readonly verifyWriter: boolean;
  /** Checked and found on a server that takes writes. */
  readonly #onWriter = new WeakSet<CorePoolConnection>();
  /** A statement on it failed with a read-only error; not yet checked. */
  readonly #readOnlyErrorSeen = new WeakSet<CorePoolConnection>();
  /** Must not serve again, and why. */
  readonly #retiring = new WeakMap<CorePoolConnection, RetirementReason>();

  constructor(verifyWriter: boolean) {
    this.verifyWriter = verifyWriter;
  }

  /** Whether `connection` must be checked (see check()) before it is handed out. */
  needsCheck(connection: CorePoolConnection): boolean {
    if (this.#readOnlyErrorSeen.has(connection)) return true;
    return this.verifyWriter && !this.#onWriter.has(connection);
  }

  /**
   * Asks the server whether it is read-only. Resolves with the reason to retire the connection
   * ('not-writer' for a new connection on a reader, 'read-only' for one whose read-only error the
   * server confirms, 'failed-validation' when it did not answer), or undefined when it may serve.
   */
  async check(connection: CorePoolConnection, timeoutMs: number): Promise<RoleCheckResult> {
    const readOnly = await isReadOnly(connection, timeoutMs);
    const sawReadOnlyError = this.#readOnlyErrorSeen.has(connection);
    if (readOnly === undefined) return 'failed-validation';
    if (readOnly) return sawReadOnlyError ? 'read-only' : 'not-writer';
    this.#readOnlyErrorSeen.delete(connection);
    this.#onWriter.add(connection);
    return undefined;
  }

  /** A statement on `connection` failed; returns whether it was a read-only error. */
  statementFailed(connection: CorePoolConnection, error: { errno?: unknown }): boolean {
    const readOnly = typeof error.errno === 'number' && READ_ONLY_ERRNOS.has(error.errno);
    if (readOnly) this.#readOnlyErrorSeen.add(connection);
    return readOnly;
  }

  /** Whether a statement on it failed with a read-only error that no check has cleared yet. */
  sawReadOnlyError(connection: CorePoolConnection): boolean {
    return this.#readOnlyErrorSeen.has(connection);
  }

  /** The connection must not serve again (the writer moved elsewhere): retire it when next seen. */
  retireLater(connection: CorePoolConnection, reason: RetirementReason): void {
    this.#retiring.set(connection, reason);
  }

  /** Why the connection must be retired, if it must. */
  retirementOf(connection: CorePoolConnection): RetirementReason | undefined {
    return this.#retiring.get(connection);
  }
}
