import type { PoolConnection as CorePoolConnection, RowDataPacket } from 'mysql2';

/**
 * Errors a statement gets on a server that is read-only: Aurora's demoted writer (1290
 * ER_OPTION_PREVENTS_STATEMENT, "--read-only"), MySQL/MariaDB read-only mode (1836
 * ER_READ_ONLY_MODE) and a read-only transaction (1792 ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION).
 * The same three mysql2's own pool.query() destroys a connection on.
 */
/**
 * How long after a sign of a failover new connections are checked. The cluster endpoint's DNS
 * record has a 5 s TTL; resolvers and caches on the way can hold it longer, and the promotion
 * itself takes tens of seconds.
 */
export const SUSPICION_WINDOW_MS = 60_000;

export const READ_ONLY_ERRNOS: ReadonlySet<number> = new Set([1290, 1836, 1792]);

/**
 * Which connections are on the wrong role. A connection whose statement failed with a read-only
 * error is condemned: it is retired when released, whichever API borrowed it, instead of going back
 * to the pool. With `verifyWriter`, a new connection is asked whether it reached the writer
 * (`@@innodb_read_only`, 1 on an Aurora reader) before any caller sees it.
 */
export class ConnectionRoles {
  readonly verifyWriter: boolean;
  readonly #condemned = new WeakSet<CorePoolConnection>();
  readonly #verified = new WeakSet<CorePoolConnection>();
  readonly #now: () => number;
  /** Whether a new connection has ever been found on the writer. */
  #writerConfirmed = false;
  /** Until when new connections are checked after a sign of a failover. */
  #suspectUntil = Number.NEGATIVE_INFINITY;

  constructor(verifyWriter: boolean, now: () => number = () => performance.now()) {
    this.verifyWriter = verifyWriter;
    this.#now = now;
  }

  /**
   * A sign that the writer may have failed over (a connection found dead, a read-only error, a
   * connect failure): new connections are checked for the next SUSPICION_WINDOW_MS.
   */
  suspect(): void {
    this.#suspectUntil = this.#now() + SUSPICION_WINDOW_MS;
  }

  /**
   * A statement on this connection failed. A read-only error condemns the connection; it, and a lost
   * connection (a fatal error), are signs of a failover. Returns whether it was such a sign.
   */
  statementFailed(connection: CorePoolConnection, error: { errno?: unknown; fatal?: unknown }): boolean {
    const readOnly = typeof error.errno === 'number' && READ_ONLY_ERRNOS.has(error.errno);
    if (readOnly) this.#condemned.add(connection);
    if (!readOnly && error.fatal !== true) return false;
    this.suspect();
    return true;
  }

  /** The connection is on the wrong role (a failover moved the writer): retire it when released. */
  condemn(connection: CorePoolConnection): void {
    this.#condemned.add(connection);
  }

  isCondemned(connection: CorePoolConnection): boolean {
    return this.#condemned.has(connection);
  }

  /**
   * Whether a writer check is owed before this connection may be handed out: with `verifyWriter`, for
   * a pool's first connections (until one is found on the writer) and for every new connection in
   * the window after a sign of a failover. Other logins (lifetime recycling, growing the pool) skip
   * the round trip.
   */
  needsCheck(connection: CorePoolConnection): boolean {
    if (!this.verifyWriter || this.#verified.has(connection)) return false;
    return !this.#writerConfirmed || this.#now() < this.#suspectUntil;
  }

  /**
   * Asks the server whether this connection reached the writer: true, false (a reader), or
   * undefined when it did not answer in time (the connection is then unfit anyway).
   */
  async isOnWriter(connection: CorePoolConnection, timeoutMs: number): Promise<boolean | undefined> {
    const readOnly = await new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), Math.max(1, timeoutMs));
      try {
        connection.query<RowDataPacket[]>(
          { sql: 'SELECT @@innodb_read_only AS read_only', timeout: Math.max(1, timeoutMs) },
          (err, rows) => {
            clearTimeout(timer);
            resolve(err ? undefined : rows?.[0]?.read_only);
          },
        );
      } catch {
        clearTimeout(timer);
        resolve(undefined);
      }
    });
    if (readOnly === undefined || readOnly === null) return undefined;
    const onWriter = Number(readOnly) === 0;
    if (onWriter) {
      this.#verified.add(connection);
      this.#writerConfirmed = true;
    } else {
      this.suspect();
    }
    return onWriter;
  }
}
