import type { Pool as CorePool } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import type { PoolConnectionCounts } from '../errors.js';
import { type IamHandle, IamLogin, type IamLoginStats } from '../login/login.js';
import { type IamPoolOptions, resolvePoolOptions } from '../options.js';
import type { AcquireTimePercentiles } from './acquire-times.js';
import { LoginRateLimiter } from './login-rate.js';
import { connectMonitor } from './monitor-connections.js';
import { assemblePool } from './pool-assembly.js';
import type { IamPoolEvents, PoolCounters } from './report.js';
import { AuroraTopology, type TopologyStats } from './topology.js';

export type { IamPoolEvents } from './report.js';

/** A pool's counts: its logins' (see IamLoginStats) and what the pool itself did. */
export interface IamPoolStats extends IamLoginStats, PoolCounters {
  /** Logins that waited for their turn under `maxLoginsPerSecond`. */
  loginsDelayed: number;
  /** The pool right now. */
  connections: PoolConnectionCounts;
  /** How long the latest borrows waited for a connection, in ms. */
  acquireTimeMs: AcquireTimePercentiles;
  /** When the pool follows an Aurora cluster's topology: its instances, the writer, where new connections go. */
  topology?: TopologyStats;
  /** A reader pool's connections per reader instance endpoint (open and opening). */
  connectionsByInstance?: Record<string, number>;
}

/** The IAM side of a pool (`pool.iam`): stats, events, the current token's times, `invalidateToken()`. */
export type IamPoolHandle = IamHandle<IamPoolStats, IamPoolEvents>;

/** A mysql2/promise pool whose connections log in with IAM tokens. `pool.pool` is the callback pool. */
export type IamPool = Pool & {
  readonly iam: IamPoolHandle;
  readonly pool: CorePool & { readonly iam: IamPoolHandle };
};

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
