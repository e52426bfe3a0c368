import type { PoolConnection as CorePoolConnection } from 'mysql2';

/**
 * Pings the server over this connection: true if it answered within `timeoutMs`. A socket that
 * the server (or a NAT, or a failover) dropped without a word never answers, hence the bound.
 */
export function answersPing(connection: CorePoolConnection, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (alive: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(alive);
    };
    const timer = setTimeout(() => finish(false), Math.max(1, timeoutMs));
    try {
      connection.ping((err) => finish(!err));
    } catch {
      finish(false);
    }
  });
}
