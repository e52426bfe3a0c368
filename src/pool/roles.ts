import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { RetirementReason } from '../diagnostics.js';
import { isReadOnly, runOwnQuery } from './own-queries.js';

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
 * The role a pool's connections must be on: 'writer' (`verifyWriter`), 'reader' (a reader pool), or
 * 'any' (no check of new connections).
 */
export type ExpectedRole = 'writer' | 'reader' | 'any';

/** Makes a reader pool's connection on the writer read-only, for the session (the fallback). */
const READ_ONLY_SESSION = 'SET SESSION TRANSACTION READ ONLY';

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
  readonly expected: ExpectedRole;
  /** For a reader pool: whether a connection on the writer is its fallback (see ReaderRoute). */
  readonly #allowsWriter: (connection: CorePoolConnection) => boolean;
  /** Checked and found on the role the pool expects. */
  readonly #checked = new WeakSet<CorePoolConnection>();
  /** A statement on it failed with a read-only error; not yet checked. */
  readonly #readOnlyErrorSeen = new WeakSet<CorePoolConnection>();
  /** Must not serve again, and why. */
  readonly #retiring = new WeakMap<CorePoolConnection, RetirementReason>();

  constructor(
    expected: ExpectedRole,
    allowsWriter: (connection: CorePoolConnection) => boolean = () => false,
  ) {
    this.expected = expected;
    this.#allowsWriter = allowsWriter;
  }

  /** Whether `connection` must be checked (see check()) before it is handed out. */
  needsCheck(connection: CorePoolConnection): boolean {
    if (this.#readOnlyErrorSeen.has(connection)) return true;
    return this.expected !== 'any' && !this.#checked.has(connection);
  }

  /**
   * Asks the server whether it is read-only. Resolves with the reason to retire the connection
   * ('not-writer' for a new connection on a reader, 'read-only' for one whose read-only error the
   * server confirms, 'failed-validation' when it did not answer), or undefined when it may serve.
   */
  async check(connection: CorePoolConnection, timeoutMs: number): Promise<RoleCheckResult> {
    const readOnly = await isReadOnly(connection, timeoutMs);
    if (readOnly === undefined) return 'failed-validation';
    if (this.expected === 'reader') {
      if (!readOnly) {
        if (!this.#allowsWriter(connection)) return 'not-reader';
        if ((await runOwnQuery(connection, READ_ONLY_SESSION, timeoutMs)).kind !== 'ok')
          return 'failed-validation';
      }
    } else if (readOnly) {
      return this.#readOnlyErrorSeen.has(connection) ? 'read-only' : 'not-writer';
    }
    this.#readOnlyErrorSeen.delete(connection);
    this.#checked.add(connection);
    return undefined;
  }

  /**
   * A statement on `connection` failed; returns whether it was a read-only error worth a check (on a
   * reader pool, writes are meant to fail that way).
   */
  statementFailed(connection: CorePoolConnection, error: { errno?: unknown }): boolean {
    const readOnly = typeof error.errno === 'number' && READ_ONLY_ERRNOS.has(error.errno);
    if (readOnly && this.expected !== 'reader') this.#readOnlyErrorSeen.add(connection);
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
