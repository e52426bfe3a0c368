import { IamAuthError } from '../errors.js';

/** How many connections a pool holds, by state. */
export interface PoolConnectionCounts {
  /** Every connection: idle, borrowed and opening. */
  total: number;
  /** Open and waiting to be borrowed. */
  idle: number;
  /** Handed out and not yet released. */
  borrowed: number;
  /** Opening: waiting for the login rate cap, connecting or logging in. */
  opening: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

/** No connection could be handed out within `acquireTimeoutMs`. */
export class IamAcquireTimeoutError extends IamAuthError {
  /** The pool at the moment the wait ended. */
  readonly pool: PoolConnectionCounts;
  readonly timeoutMs: number;

  constructor(timeoutMs: number, endpoint: string, pool: PoolConnectionCounts, cause?: unknown) {
    const why =
      cause === undefined ? '' : `; the last attempt to open a connection failed: ${describeCause(cause)}`;
    super(
      'RDS_IAM_ACQUIRE_TIMEOUT',
      'acquire',
      `No connection to ${endpoint} within ${timeoutMs} ms (pool: ${pool.total} total, ${pool.idle} idle, ` +
        `${pool.borrowed} borrowed, ${pool.opening} opening, ${pool.waiting} waiting)${why}`,
      {
        hint: acquireTimeoutHint(pool, cause),
        cause,
      },
    );
    this.pool = pool;
    this.timeoutMs = timeoutMs;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), pool: this.pool, timeoutMs: this.timeoutMs };
  }
}

/**
 * The pool was ended: `end()` was called before or while this call waited, or a borrowed
 * connection's command was cut off when `end()` stopped waiting for it. The message is mysql2's
 * own, so code that matches on it keeps working.
 */
export class IamPoolClosedError extends IamAuthError {
  constructor(detail?: string) {
    super('RDS_IAM_POOL_CLOSED', 'acquire', detail ? `Pool is closed. ${detail}` : 'Pool is closed.', {
      hint: 'end() was called on this pool. Create a new pool, or stop using this one before ending it.',
    });
  }
}

/** What most likely kept every connection from the caller, judged by the pool at the moment it gave up. */
function acquireTimeoutHint(pool: PoolConnectionCounts, cause: unknown): string {
  if (cause !== undefined) {
    return (
      'New connections could not be opened in time: see `cause`, and check that the endpoint is ' +
      'reachable and accepting logins.'
    );
  }
  if (pool.opening > 0) {
    return (
      `${pool.opening} connection(s) were still opening when the wait ended: the server (or the tunnel) ` +
      'accepted the TCP connection but the MySQL or TLS handshake did not finish. Check that the endpoint ' +
      'is a MySQL server that answers, the network path (proxies, NAT, security groups), and `connectTimeout` ' +
      '(it bounds each attempt; keep it below acquireTimeoutMs so an attempt can fail and be retried).'
    );
  }
  return (
    'Every connection stayed borrowed: release connections after use (conn.release()), look for ' +
    'long transactions or slow queries, or raise connectionLimit (and the server max_connections).'
  );
}

/**
 * mysql2 refused the borrow at once: `queueLimit` callers were already waiting, or the pool was full
 * with `waitForConnections: false`.
 */
export class IamPoolExhaustedError extends IamAuthError {
  readonly pool: PoolConnectionCounts;
  constructor(endpoint: string, pool: PoolConnectionCounts, cause: unknown) {
    super(
      'RDS_IAM_POOL_EXHAUSTED',
      'acquire',
      `No connection to ${endpoint} is free and the pool takes no more waiting callers (pool: ${pool.total} total, ` +
        `${pool.borrowed} borrowed, ${pool.waiting} waiting)`,
      {
        hint:
          'The pool is at connectionLimit and queueLimit callers are already waiting (or waitForConnections is ' +
          'false): raise connectionLimit or queueLimit, or release connections sooner.',
        cause,
      },
    );
    this.pool = pool;
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${cause.message}` : cause.message;
  }
  return String(cause);
}
