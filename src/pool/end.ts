import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { IamPoolClosedError } from '../errors.js';
import type { IamLogin } from '../login/login.js';
import {
  type BoundaryPool,
  destroyConnection,
  type EndCallback,
  interruptConnection,
  quitConnection,
} from '../mysql2-boundary.js';
import type { Acquirer } from './acquirer.js';
import type { PoolConnections } from './connections.js';
import type { PoolReport } from './report.js';

/** How often end() looks whether the last borrowed connection has come back. */
const DRAIN_POLL_MS = 10;

/** Everything end() stops. */
export interface EndParts {
  mysql2Pool: BoundaryPool;
  connections: PoolConnections;
  acquirer: Acquirer;
  login: IamLogin;
  report: PoolReport;
  settings: { endTimeoutMs: number };
  /** Stops what the pool owns beyond these (the login cap, the topology, timers of its own). */
  stop(): void;
}

/**
 * The pool's end(), once however often it is called: every caller still waiting (queued, mid-login,
 * waiting for a login turn, or being checked) gets IamPoolClosedError at once and every timer stops;
 * idle connections close now, connections still opening are cut, borrowed ones close as they are
 * released, and whatever is still out after `endTimeoutMs` is cut off so its pending command fails
 * instead of keeping end() (and the process) waiting.
 */
export function endPool(parts: EndParts): (callback: EndCallback) => void {
  let ended: Promise<void> | undefined;
  return (callback) => {
    ended ??= (async () => {
      parts.connections.close();
      parts.acquirer.close();
      parts.stop();
      parts.login.close();
      await drain(parts);
      await new Promise<void>((resolve, reject) =>
        parts.mysql2Pool.endRaw((err) => (err ? reject(err) : resolve())),
      );
    })();
    ended.then(
      () => callback(null),
      (err: NodeJS.ErrnoException) => callback(err),
    );
  };
}

async function drain({ mysql2Pool, connections, report, settings }: EndParts): Promise<void> {
  const deadline = performance.now() + settings.endTimeoutMs;
  for (;;) {
    for (const connection of mysql2Pool.freeConnections()) quitConnection(connection);
    // A connection still opening serves no caller: a handshake that hangs must not hold end().
    for (const connection of mysql2Pool.allConnections()) {
      if (!connections.lifetimes.isOpen(connection)) destroyConnection(connection);
    }
    if (mysql2Pool.counts().all === 0) return;
    if (performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
  }
  for (const connection of mysql2Pool.allConnections()) interrupt(connection, connections, report, settings);
}

function interrupt(
  connection: CorePoolConnection,
  connections: PoolConnections,
  report: PoolReport,
  settings: { endTimeoutMs: number },
): void {
  report.retired(connection, 'end-timeout', connections.lifetimes.ageMs(connection));
  interruptConnection(
    connection,
    new IamPoolClosedError(
      `end() waited ${settings.endTimeoutMs} ms (endTimeoutMs) for this connection to be released, then closed it.`,
    ),
  );
}
