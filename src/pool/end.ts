import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { IamPoolClosedError } from '../errors.js';
import {
  type BoundaryPool,
  destroyConnection,
  interruptConnection,
  quitConnection,
} from '../mysql2-boundary.js';

/** How often end() looks whether the last borrowed connection has come back. */
const DRAIN_POLL_MS = 10;

export interface GracefulEndOptions {
  /** How long to wait for borrowed connections to come back. */
  timeoutMs: number;
  /** Whether a connection has finished logging in (one still opening is closed at once). */
  isOpen(connection: CorePoolConnection): boolean;
  /** Called for each connection still out when the wait ends, before it is cut off. */
  onInterrupted(connection: CorePoolConnection): void;
}

/**
 * Drains a pool whose new borrows already fail: callers still queued get IamPoolClosedError, idle
 * connections are closed now, connections still opening are cut, borrowed ones close as they are released; whatever is still out after
 * `timeoutMs` is cut off, so its pending command fails instead of keeping end() (and the process)
 * waiting. Resolves when the pool holds no connection.
 */
export async function drainPool(core: BoundaryPool, options: GracefulEndOptions): Promise<void> {
  for (const callback of core.takeQueued()) {
    process.nextTick(() => callback(new IamPoolClosedError()));
  }
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    for (const connection of core.freeConnections()) quitConnection(connection);
    // A connection still opening serves no caller: a handshake that hangs must not hold end().
    for (const connection of core.allConnections()) {
      if (!options.isOpen(connection)) destroyConnection(connection);
    }
    if (core.counts().all === 0) return;
    if (performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
  const stillOut = core.allConnections();
  for (const connection of stillOut) {
    options.onInterrupted(connection);
    interruptConnection(
      connection,
      new IamPoolClosedError(
        `end() waited ${options.timeoutMs} ms (endTimeoutMs) for this connection to be released, then closed it.`,
      ),
    );
  }
}
