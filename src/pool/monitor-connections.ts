import mysql from 'mysql2';
import { iamConnectionOptions } from '../connection/mysql2-options.js';
import type { IamLogin } from '../login/login.js';
import type { ResolvedIamOptions } from '../options.js';
import type { LoginRateLimiter } from './login-rate.js';
import { type ConnectMonitor, type MonitorConnection, monitorTimeoutMs } from './topology.js';

/**
 * How the topology opens its short-lived connections: to any host of the cluster, logged in with
 * IAM like the pool's own (a token per host, from the same cache), each after its turn under the
 * login rate cap, and not counted as the pool's logins.
 */
export function connectMonitor(
  resolved: ResolvedIamOptions,
  login: IamLogin,
  limiter: LoginRateLimiter,
  pollIntervalMs: number,
): ConnectMonitor {
  const hooks = { ...login.hooks(), succeeded: () => {} };
  const connectTimeout = monitorTimeoutMs(pollIntervalMs);
  return async (host) => {
    if (!(await limiter.acquire())) return undefined;
    const connection = mysql.createConnection({
      ...iamConnectionOptions({ ...resolved, host }, hooks),
      connectTimeout,
    });
    connection.on('error', () => {});
    return new Promise<MonitorConnection | undefined>((resolve) =>
      connection.connect((err) => {
        if (!err) {
          resolve(connection);
          return;
        }
        connection.destroy();
        resolve(undefined);
      }),
    );
  };
}
