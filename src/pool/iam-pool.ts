import { IamLogin } from '../login/login.js';
import { type IamPoolOptions, resolvePoolOptions } from '../options.js';
import { LoginRateLimiter } from './login-rate.js';
import { connectMonitor } from './monitor-connections.js';
import { assemblePool } from './pool-assembly.js';
import type { IamPool } from './pool-types.js';

export type { IamPool, IamPoolEvents, IamPoolHandle, IamPoolStats } from './pool-types.js';

import { AuroraTopology } from './topology.js';

/**
 * Creates a mysql2 pool for an RDS / Aurora MySQL or MariaDB endpoint with IAM database
 * authentication: each new connection logs in with a cached, refreshed token, over TLS verified
 * against the RDS CAs, retrying refused logins with a fresh token. On top of mysql2's pool:
 * bounded waits, validation of idle connections, a maximum lifetime, a login rate cap, Aurora
 * failover and a bounded end() (see docs/production.md; docs/architecture.md for how it fits).
 */
export function createIamPool(options: IamPoolOptions): IamPool {
  const resolved = resolvePoolOptions(options);
  const limiter = new LoginRateLimiter(resolved.pool.maxLoginsPerSecond);
  const login = new IamLogin(resolved);
  const settings = resolved.topologyFailover;
  const topology = settings
    ? new AuroraTopology(
        { clusterHost: resolved.host, ...settings },
        connectMonitor(resolved, login, limiter, settings.pollIntervalMs),
      )
    : undefined;
  return assemblePool(resolved, {
    login,
    limiter,
    topology,
    role: resolved.verifyWriter ? 'writer' : 'any',
    owns: { limiter: true, topology: true },
  });
}
