import type { Pool as CorePool } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import { checkEffectiveConfig, iamConnectionOptions } from '../connection/mysql2-options.js';
import type { PoolConnectionCounts } from '../errors.js';
import { type IamHandle, IamLogin, type IamLoginStats } from '../login/login.js';
import { assertRoutingContract, BoundaryPool } from '../mysql2-boundary.js';
import { type IamPoolOptions, type ResolvedIamOptions, resolvePoolOptions } from '../options.js';
import { connectEndpoint } from '../retry.js';
import type { AcquireTimePercentiles } from './acquire-times.js';
import { Acquirer } from './acquirer.js';
import { PoolConnections } from './connections.js';
import { endPool } from './end.js';
import { ConnectionLifetimes } from './lifetime.js';
import { LoginRateLimiter } from './login-rate.js';
import { PoolLogins } from './logins.js';
import { type IamPoolEvents, type PoolCounters, PoolReport } from './report.js';
import { ConnectionRoles } from './roles.js';
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
  const settings = resolved.pool;
  const login = new IamLogin(resolved);
  const report = new PoolReport(
    { host: resolved.host, port: resolved.port, user: resolved.user },
    (event, ...args) => login.handle.emit(event, ...args),
  );
  const limiter = new LoginRateLimiter(settings.maxLoginsPerSecond);
  const topology = auroraTopology(resolved, login, limiter);

  const connectionOptions = iamConnectionOptions(
    resolved,
    login.hooks(),
    topology && (() => topology.target()),
  );
  const mysql2Pool = new BoundaryPool(connectionOptions);
  if (topology) assertRoutingContract(mysql2Pool);
  // What mysql2 will really use, after it read every option: checked before any connection opens.
  checkEffectiveConfig(mysql2Pool.connectionConfig, connectionOptions);

  const connections = new PoolConnections(
    mysql2Pool,
    {
      lifetimes: new ConnectionLifetimes(settings.maxLifetimeMs, resolved.clock),
      roles: new ConnectionRoles(resolved.verifyWriter),
      report,
    },
    settings,
    topology,
  );
  const endpoint = connectEndpoint(resolved);
  const logins = new PoolLogins(connections, limiter, report, {
    retry: resolved.retry,
    endpoint,
    validationTimeoutMs: settings.validationTimeoutMs,
  });
  const acquirer = new Acquirer(connections, logins, report, {
    acquireTimeoutMs: settings.acquireTimeoutMs,
    endpoint,
    queueLimit: Number(mysql2Pool.poolConfig.queueLimit) || 0,
    waitForConnections: mysql2Pool.poolConfig.waitForConnections !== false,
  });
  if (topology) {
    mysql2Pool.on('connection', () => topology.started());
    topology.follow({
      writerChanged: (message) => {
        connections.writerMoved(message.writer);
        report.topologyChanged(message);
        logins.retryNow();
      },
    });
  }
  login.handle.extendStats(
    (): Omit<IamPoolStats, keyof IamLoginStats> => ({
      ...report.counters(),
      loginsDelayed: limiter.delayed,
      connections: acquirer.counts(),
      acquireTimeMs: report.acquireTimes(),
      ...(topology ? { topology: topology.stats() } : {}),
    }),
  );

  mysql2Pool.setPolicy({
    getConnection: (callback) => acquirer.getConnection(callback),
    connectionLeft: () => acquirer.serveWaiters(),
    end: endPool({ mysql2Pool, connections, acquirer, limiter, login, topology, report, settings }),
  });
  return exposed(mysql2Pool, login.view<IamPoolStats, IamPoolEvents>());
}

/** The topology the pool follows, when it follows one (see the `topologyFailover` option). */
function auroraTopology(
  resolved: ResolvedIamOptions,
  login: IamLogin,
  limiter: LoginRateLimiter,
): AuroraTopology | undefined {
  if (!resolved.topologyFailover) return undefined;
  // The topology's own logins: short-lived, under the login cap, not counted as the pool's.
  const hooks = { ...login.hooks(), succeeded: () => {} };
  return new AuroraTopology(
    { clusterHost: resolved.host, ...resolved.topologyFailover },
    (host) => iamConnectionOptions({ ...resolved, host }, hooks),
    limiter,
  );
}

/** The promise pool users hold, with `pool.iam` on it and on the callback pool. */
function exposed(mysql2Pool: BoundaryPool, iam: IamPoolHandle): IamPool {
  const pool = mysql2Pool.promise() as IamPool;
  Object.defineProperty(pool, 'iam', { value: iam, enumerable: false });
  Object.defineProperty(mysql2Pool, 'iam', { value: iam, enumerable: false });
  return pool;
}
