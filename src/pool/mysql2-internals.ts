/**
 * The one place that knows mysql2's pool internals (mysql2 3.24: lib/base/pool.js,
 * lib/pool_connection.js, lib/ring_queue.js). Everything else goes through these functions, so a
 * mysql2 upgrade that renames a field breaks here, where a test notices, and nowhere else.
 */
import type { Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';

/** mysql2's ring queue: the pool's connection lists and its queue of waiting callbacks. */
interface RingQueue<T> {
  readonly length: number;
  get(index: number): T | undefined;
  removeOne(index: number): void;
  shift(): T | undefined;
}

export type GetConnectionCallback = (err: Error | null, connection?: CorePoolConnection) => void;

interface CorePoolInternals {
  /** Every connection: idle, borrowed, and those still logging in. */
  _allConnections: RingQueue<CorePoolConnection>;
  /** Idle connections; getConnection pops the most recently released one. */
  _freeConnections: RingQueue<CorePoolConnection>;
  /** Callers waiting for a connection to be released. */
  _connectionQueue: RingQueue<GetConnectionCallback>;
  _closed: boolean;
}

interface PoolConnectionInternals {
  /** The owning pool; null once the connection has left it. */
  _pool: unknown;
  _fatalError: unknown;
  _protocolError: unknown;
  _closing: boolean;
  stream?: { destroyed?: boolean; readableEnded?: boolean; destroy?: () => void };
  _removeFromPool(): void;
  /** The plain Connection.end (COM_QUIT); PoolConnection.end only releases. */
  _realEnd(callback?: (err?: Error) => void): void;
}

const pool = (core: CorePool) => core as unknown as CorePoolInternals;
const conn = (connection: CorePoolConnection) => connection as unknown as PoolConnectionInternals;

/** Connections in the pool (idle, borrowed and logging in) and those idle right now. */
export function connectionCounts(core: CorePool): { all: number; free: number; queued: number } {
  const p = pool(core);
  return {
    all: p._allConnections.length,
    free: p._freeConnections.length,
    queued: p._connectionQueue.length,
  };
}

/** Whether an idle connection is waiting to be borrowed. */
export function hasFreeConnection(core: CorePool): boolean {
  return pool(core)._freeConnections.length > 0;
}

/** Whether the pool holds `connectionLimit` connections, so a borrow can only wait for a release. */
export function isFull(core: CorePool): boolean {
  const limit = (core as unknown as { config: { connectionLimit: number } }).config.connectionLimit;
  return limit > 0 && pool(core)._allConnections.length >= limit;
}

/** A snapshot of every connection the pool holds. */
export function allConnections(core: CorePool): CorePoolConnection[] {
  return snapshot(pool(core)._allConnections);
}

/** A snapshot of the idle connections. */
export function freeConnections(core: CorePool): CorePoolConnection[] {
  return snapshot(pool(core)._freeConnections);
}

export function isFree(core: CorePool, connection: CorePoolConnection): boolean {
  return snapshot(pool(core)._freeConnections).includes(connection);
}

/** Whether the pool still owns the connection (it leaves on 'end', 'error' or destroy()). */
export function isInPool(connection: CorePoolConnection): boolean {
  return conn(connection)._pool != null;
}

/**
 * Whether the connection is known to be unusable without asking the server: a fatal or protocol
 * error was seen, it is closing, or its socket is gone or was ended by the server.
 */
export function isKnownDead(connection: CorePoolConnection): boolean {
  const c = conn(connection);
  return (
    c._pool == null ||
    Boolean(c._fatalError) ||
    Boolean(c._protocolError) ||
    c._closing === true ||
    c.stream?.destroyed === true ||
    c.stream?.readableEnded === true
  );
}

/** Takes the callback out of the pool's wait queue; false when it is not (or no longer) queued. */
export function removeQueuedCallback(core: CorePool, callback: GetConnectionCallback): boolean {
  const queue = pool(core)._connectionQueue;
  for (let i = 0; i < queue.length; i++) {
    if (queue.get(i) === callback) {
      queue.removeOne(i);
      return true;
    }
  }
  return false;
}

/** Empties the pool's wait queue, returning the callbacks that were waiting. */
export function takeQueuedCallbacks(core: CorePool): GetConnectionCallback[] {
  const queue = pool(core)._connectionQueue;
  const callbacks: GetConnectionCallback[] = [];
  for (let cb = queue.shift(); cb !== undefined; cb = queue.shift()) callbacks.push(cb);
  return callbacks;
}

/** Whether mysql2 itself considers the pool closed (its end() has run). */
export function isClosed(core: CorePool): boolean {
  return pool(core)._closed;
}

/**
 * Takes the connection out of the pool and closes it politely: COM_QUIT, so the server does not
 * count an aborted client, then the socket is destroyed if the server has not closed it soon.
 * A waiting caller is then served by a new connection (mysql2 re-dispatches it on removal).
 */
export function quitConnection(connection: CorePoolConnection, graceMs = 1000): void {
  const c = conn(connection);
  c._removeFromPool();
  if (c._closing || c._fatalError || c._protocolError) {
    connection.destroy();
    return;
  }
  try {
    c._realEnd(() => {});
  } catch {
    // Already unusable: destroy below.
  }
  const timer = setTimeout(() => c.stream?.destroy?.(), graceMs);
  timer.unref();
}

/** Takes the connection out of the pool and destroys its socket at once. */
export function destroyConnection(connection: CorePoolConnection): void {
  conn(connection)._removeFromPool();
  connection.destroy();
}

/**
 * Takes a borrowed connection out of the pool and cuts its socket so that a command in flight
 * fails with `error` instead of waiting forever. (mysql2's destroy() marks the connection as
 * closing, and a closing connection never reports the lost socket to its pending commands.)
 */
export function interruptConnection(connection: CorePoolConnection, error: Error): void {
  const c = conn(connection);
  c._removeFromPool();
  // With no command in flight mysql2 emits the error on the connection itself.
  connection.on('error', () => {});
  if (!c._closing && !c._fatalError && !c._protocolError) c._protocolError = error;
  if (c.stream?.destroy) c.stream.destroy();
  else connection.destroy();
}

function snapshot<T>(queue: RingQueue<T>): T[] {
  const items: T[] = [];
  for (let i = 0; i < queue.length; i++) {
    const item = queue.get(i);
    if (item !== undefined) items.push(item);
  }
  return items;
}
