import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { addressOf, checkEffectiveConfig, iamConnectionOptions } from '../connection/mysql2-options.js';
import { IamPoolClosedError } from '../errors.js';
import type { IamLogin, IamLoginStats } from '../login/login.js';
import { assertRoutingContract, BoundaryPool } from '../mysql2-boundary.js';
import type { ResolvedIamOptions } from '../options.js';
import { connectEndpoint } from '../retry.js';
import { Acquirer } from './acquirer.js';
import { PoolConnections } from './connections.js';
import { endPool } from './end.js';
import { ConnectionLifetimes } from './lifetime.js';
import type { LoginRateLimiter } from './login-rate.js';
import { PoolLogins } from './logins.js';
import type { IamPool, IamPoolHandle, IamPoolStats } from './pool-types.js';
import type { IamPoolEvents } from './report.js';
import { PoolReport } from './report.js';
import { ConnectionRoles, type ExpectedRole } from './roles.js';
import { type ConnectionRoute, ReaderRoute, WriterRoute } from './routing.js';
import type { AuroraTopology } from './topology.js';

/** What a pool may share with others of the same cluster, and whether it ends them with itself. */
export interface PoolParts {
  login: IamLogin;
  limiter: LoginRateLimiter;
  topology: AuroraTopology | undefined;
  /** 'reader' makes a reader pool (needs the topology); see ConnectionRoles for the others. */
  role: ExpectedRole;
  /** A reader pool's route settings. */
  reader?: { readerEndpoint: string; fallbackToWriter: boolean };
  owns: { limiter: boolean; topology: boolean };
}

/**
 * Builds one pool from its parts: the mysql2 pool with IAM login, the objects that own its
 * connections, logins and callers, and the route its new connections take. createIamPool and
 * createIamCluster call this; it is the one place the pieces are wired together.
 */
export function assemblePool(resolved: ResolvedIamOptions, parts: PoolParts): IamPool {
  const { login, limiter, topology } = parts;
  const settings = resolved.pool;
  const report = new PoolReport(
    { host: resolved.host, port: resolved.port, user: resolved.user },
    (event, ...args) => login.handle.emit(event, ...args),
  );
  let mysql2Pool: BoundaryPool | undefined;
  const route = poolRoute(resolved, parts, () => mysql2Pool?.allConnections() ?? []);
  const connectionOptions = iamConnectionOptions(resolved, login.hooks(), route && (() => route.next()));
  mysql2Pool = new BoundaryPool(connectionOptions);
  if (route) assertRoutingContract(mysql2Pool);
  // What mysql2 will really use, after it read every option: checked before any connection opens.
  checkEffectiveConfig(mysql2Pool.connectionConfig, connectionOptions);

  const roles = new ConnectionRoles(parts.role, (c) => route?.allowsWriter(String(c.config.host)) ?? false);
  const lifetimes = new ConnectionLifetimes(settings.maxLifetimeMs, resolved.clock);
  const connections = new PoolConnections(mysql2Pool, { lifetimes, roles, report }, settings, topology);
  const endpoint = connectEndpoint(resolved.host, resolved.port, addressOf(resolved, resolved.host));
  const logins = new PoolLogins(
    connections,
    limiter,
    report,
    route ?? new WriterRoute(resolved.host, undefined),
    {
      retry: resolved.retry,
      endpoint,
      validationTimeoutMs: settings.validationTimeoutMs,
    },
  );
  const acquirer = new Acquirer(connections, logins, report, {
    acquireTimeoutMs: settings.acquireTimeoutMs,
    endpoint,
    queueLimit: Number(mysql2Pool.poolConfig.queueLimit) || 0,
    waitForConnections: mysql2Pool.poolConfig.waitForConnections !== false,
  });
  const unfollow = followTopology(topology, { mysql2Pool, connections, logins, report, route });
  login.handle.extendStats(
    (): Omit<IamPoolStats, keyof IamLoginStats> => ({
      ...report.counters(),
      loginsDelayed: limiter.delayed,
      connections: acquirer.counts(),
      acquireTimeMs: report.acquireTimes(),
      ...(topology ? { topology: topology.stats() } : {}),
      ...(route instanceof ReaderRoute
        ? { connectionsByInstance: Object.fromEntries(route.connectionsByHost()) }
        : {}),
    }),
  );
  mysql2Pool.setPolicy({
    getConnection: (callback) => acquirer.getConnection(callback),
    connectionLeft: () => acquirer.serveWaiters(),
    takeReleased: (connection) => acquirer.takeReleased(connection),
    end: endPool({
      mysql2Pool,
      connections,
      acquirer,
      login,
      report,
      settings,
      stop: () => {
        unfollow();
        if (parts.owns.limiter) limiter.close(new IamPoolClosedError());
        if (parts.owns.topology) topology?.close();
      },
    }),
  });
  return exposed(mysql2Pool, login.view<IamPoolStats, IamPoolEvents>());
}

/** Where new connections go: undefined for a pool that dials its one endpoint as mysql2 does. */
function poolRoute(
  resolved: ResolvedIamOptions,
  parts: PoolParts,
  allConnections: () => CorePoolConnection[],
): ConnectionRoute | undefined {
  if (parts.role !== 'reader')
    return parts.topology ? new WriterRoute(resolved.host, parts.topology) : undefined;
  if (!parts.topology || !parts.reader) throw new Error('a reader pool needs the cluster topology');
  // A reader that refused a login is passed over for as long as a failing endpoint would be.
  return new ReaderRoute(parts.topology, allConnections, {
    ...parts.reader,
    cooldownMs: resolved.retry.maxTimeoutMs,
  });
}

interface FollowingPool {
  mysql2Pool: BoundaryPool;
  connections: PoolConnections;
  logins: PoolLogins;
  report: PoolReport;
  route: ConnectionRoute | undefined;
}

/**
 * Keeps a pool in step with the cluster: a writer pool moves its connections to a new writer, a
 * reader pool moves connections off readers that left, became the writer or hold more than their
 * share. Returns what stops it.
 */
function followTopology(topology: AuroraTopology | undefined, pool: FollowingPool): () => void {
  if (!topology) return () => {};
  const { mysql2Pool, connections, logins, report, route } = pool;
  const rebalance = () => {
    if (route instanceof ReaderRoute) connections.moveOff(route.surplus(), 'rebalanced');
  };
  mysql2Pool.on('connection', () => topology.started());
  const unlend = topology.lend(() => connections.lend());
  const unfollow = topology.follow({
    writerChanged: (message) => {
      if (route instanceof ReaderRoute) rebalance();
      else connections.writerMoved(message.writer);
      report.topologyChanged(message);
      logins.retryNow();
    },
    instancesChanged: () => {
      rebalance();
      logins.retryNow();
    },
  });
  // Readers that recovered from a refused login, or a pool that grew unevenly, are evened out too.
  const evenOut =
    route instanceof ReaderRoute ? setInterval(rebalance, topology.refreshIntervalMs) : undefined;
  evenOut?.unref();
  return () => {
    unfollow();
    unlend();
    clearInterval(evenOut);
  };
}

/** The promise pool users hold, with `pool.iam` on it and on the callback pool. */
function exposed(mysql2Pool: BoundaryPool, iam: IamPoolHandle): IamPool {
  const pool = mysql2Pool.promise() as IamPool;
  Object.defineProperty(pool, 'iam', { value: iam, enumerable: false });
  Object.defineProperty(mysql2Pool, 'iam', { value: iam, enumerable: false });
  return pool;
}
