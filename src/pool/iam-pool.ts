import type { Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';
import type { Pool } from 'mysql2/promise';
import { checkEffectiveConfig, iamConnectionOptions } from '../connection/mysql2-options.js';
import {
  type ConnectionRetiredMessage,
  publishAcquireTimeout,
  publishConnectionRetired,
  publishLoginFailed,
  publishTopologyChanged,
  type RetirementReason,
  type TopologyChangedMessage,
} from '../diagnostics.js';
import { type IamAcquireTimeoutError, IamPoolClosedError, type PoolConnectionCounts } from '../errors.js';
import { type IamHandle, IamLogin, type IamLoginEvents, type IamLoginStats } from '../login/login.js';
import {
  assertConnectionContract,
  assertRoutingContract,
  BoundaryPool,
  destroyConnection,
  type EndCallback,
  quitConnection,
  watchStatementErrors,
} from '../mysql2-boundary.js';
import { type IamPoolOptions, resolveOptions, withPoolConnectTimeout } from '../options.js';
import { connectEndpoint, toIamError } from '../retry.js';
import { Acquirer } from './acquire.js';
import { type AcquireTimePercentiles, AcquireTimes } from './acquire-times.js';
import { drainPool } from './end.js';
import { ConnectionLifetimes } from './lifetime.js';
import { LoginRateLimiter } from './login-rate.js';
import { ConnectionRoles } from './roles.js';
import { AuroraTopology, type TopologyStats } from './topology.js';

/** A pool's counts: its logins' (see IamLoginStats) and what the pool itself did. */
export interface IamPoolStats extends IamLoginStats {
  /** Connect attempts that failed (each retry counts). */
  connectFailures: number;
  /** Retries after the server refused a token. */
  authRetries: number;
  /** Retries after a network error while connecting. */
  transientRetries: number;
  /** Logins that waited for their turn under `maxLoginsPerSecond`. */
  loginsDelayed: number;
  /** Connections closed at their maximum lifetime. */
  connectionsRetired: number;
  /** Connections found dead (closed, or idle and not answering a ping) when borrowed, and replaced. */
  deadOnBorrow: number;
  /** Borrows that gave up after `acquireTimeoutMs`. */
  acquireTimeouts: number;
  /**
   * Connections closed for being on the wrong role: a statement failed because the server is
   * read-only (a demoted writer), or a new connection reached a reader although `verifyWriter` is on.
   */
  wrongRoleRetired: number;
  /** Borrowed connections that end() closed because they were not released within `endTimeoutMs`. */
  connectionsInterrupted: number;
  /** The pool right now. */
  connections: PoolConnectionCounts;
  /** How long the latest borrows waited for a connection, in ms. */
  acquireTimeMs: AcquireTimePercentiles;
  /** With `topologyFailover`: the cluster's instances, the writer, where new connections go. */
  topology?: TopologyStats;
}

export interface IamPoolEvents extends IamLoginEvents {
  /** A connect attempt failed and will be retried. */
  retry: [{ attempt: number; reason: 'auth-rejected' | 'transient'; code: string | undefined }];
  /** A connect failed for good; the caller received this error. */
  connectFailed: [{ error: unknown }];
  /** The pool closed a connection on purpose (lifetime, failed validation, end timeout). */
  connectionRetired: [ConnectionRetiredMessage];
  /** A borrow gave up after `acquireTimeoutMs`; the caller received this error. */
  acquireTimeout: [{ error: IamAcquireTimeoutError }];
  /** With `topologyFailover`: the pool found the (new) writer and sends new connections there. */
  topologyChanged: [TopologyChangedMessage];
}

/** The IAM side of a pool (`pool.iam`): stats, events, the current token's times, `invalidateToken()`. */
export type IamPoolHandle = IamHandle<IamPoolStats, IamPoolEvents>;

/** A mysql2/promise pool whose connections log in with IAM tokens. `pool.pool` is the callback pool. */
export type IamPool = Pool & {
  readonly iam: IamPoolHandle;
  readonly pool: CorePool & { readonly iam: IamPoolHandle };
};

type PoolCounter =
  | 'connectFailures'
  | 'authRetries'
  | 'transientRetries'
  | 'connectionsRetired'
  | 'deadOnBorrow'
  | 'acquireTimeouts'
  | 'connectionsInterrupted'
  | 'wrongRoleRetired';

/**
 * Creates a mysql2 pool for an RDS / Aurora MySQL or MariaDB endpoint with IAM database
 * authentication: each new connection logs in with a cached, refreshed token, over TLS verified
 * against the RDS CAs, retrying refused logins with a fresh token. On top of mysql2's pool:
 * bounded waits, validation of idle connections, a maximum lifetime, a login rate cap and a
 * bounded end() (see docs/production.md).
 */
export function createIamPool(options: IamPoolOptions): IamPool {
  const resolved = withPoolConnectTimeout(resolveOptions(options));
  const settings = resolved.pool;
  const counters: Record<PoolCounter, number> = {
    connectFailures: 0,
    authRetries: 0,
    transientRetries: 0,
    connectionsRetired: 0,
    deadOnBorrow: 0,
    acquireTimeouts: 0,
    connectionsInterrupted: 0,
    wrongRoleRetired: 0,
  };
  const acquireTimes = new AcquireTimes();
  const limiter = new LoginRateLimiter(settings.maxLoginsPerSecond);
  const lifetimes = new ConnectionLifetimes(settings.maxLifetimeMs, resolved.clock);
  const roles = new ConnectionRoles(resolved.verifyWriter);
  // Assigned below; stats() is only called once the pool exists.
  let counts: () => PoolConnectionCounts = () => ({ total: 0, idle: 0, borrowed: 0, opening: 0, waiting: 0 });
  let topology: AuroraTopology | undefined;
  const login = new IamLogin(resolved, () => ({
    ...counters,
    loginsDelayed: limiter.delayed,
    connections: counts(),
    acquireTimeMs: acquireTimes.percentiles(),
    ...(topology ? { topology: topology.stats() } : {}),
  }));
  const iam = login.view<IamPoolStats, IamPoolEvents>();
  const emit = <K extends keyof IamPoolEvents>(event: K, ...args: IamPoolEvents[K]) =>
    login.handle.emit(event, ...args);
  const identity = { host: resolved.host, port: resolved.port, user: resolved.user };
  const endpoint = connectEndpoint(resolved);

  if (resolved.topologyFailover) {
    const settings = resolved.topologyFailover;
    // The topology's own logins: short-lived, uncounted, outside the login cap (a few per second at
    // most while a failover is searched for).
    const monitorHooks = { ...login.hooks(), succeeded: () => {} };
    topology = new AuroraTopology(
      { clusterHost: resolved.host, ...settings },
      (host) => iamConnectionOptions({ ...resolved, host }, monitorHooks),
      {
        changed: (message) => {
          const full: TopologyChangedMessage = { ...identity, ...message };
          // Connections on another instance than the writer are on the wrong role now: closed when
          // released, and idle ones at once.
          for (const connection of core.allConnections()) {
            if (connection.config.host !== message.writer) roles.condemn(connection);
          }
          for (const connection of core.freeConnections()) {
            if (roles.isCondemned(connection)) retire(connection, 'read-only');
          }
          emit('topologyChanged', full);
          publishTopologyChanged(full);
        },
      },
    );
  }
  const currentTopology = topology;
  const connectionOptions = iamConnectionOptions(
    resolved,
    {
      ...login.hooks(),
      // The login rate cap sits right before the token is taken and sent: a connect that fails
      // earlier (server down, refusing connections) costs the server no login and is not held back,
      // so an outage fails fast instead of queueing behind the cap.
      waitForTurn: (isCancelled) => limiter.acquire(isCancelled),
    },
    currentTopology ? () => currentTopology.target() : undefined,
  );
  const core = new BoundaryPool(connectionOptions);
  if (topology) assertRoutingContract(core);
  // What mysql2 will really use, after it read every option: checked before any connection opens.
  checkEffectiveConfig(core.connectionConfig, connectionOptions);

  let ending = false;
  const retire = (connection: CorePoolConnection, reason: RetirementReason) => {
    const message: ConnectionRetiredMessage = {
      ...identity,
      reason,
      threadId: connection.threadId ?? undefined,
      ageMs: lifetimes.ageMs(connection),
    };
    // A connection at the end of its life is still healthy: say goodbye (COM_QUIT). A broken one
    // would not hear it.
    if (reason === 'max-lifetime') quitConnection(connection);
    else destroyConnection(connection);
    counters[retirementCounter(reason)]++;
    emit('connectionRetired', message);
    publishConnectionRetired(message);
    // A connection found dead, or on a reader, may mean the writer failed over.
    if (reason !== 'max-lifetime' && reason !== 'end-timeout') {
      roles.suspect();
      topology?.suspect();
    }
  };

  const acquirer = new Acquirer(
    core,
    {
      acquireTimeoutMs: settings.acquireTimeoutMs,
      validateAfterIdleMs: settings.validateAfterIdleMs,
      validationTimeoutMs: settings.validationTimeoutMs,
      retry: resolved.retry,
      endpoint,
    },
    lifetimes,
    roles,
    {
      isEnding: () => ending,
      counts: () => counts(),
      onRetry: (failure, attempt, error) => {
        counters[failure === 'auth-rejected' ? 'authRetries' : 'transientRetries']++;
        if (failure === 'transient') {
          roles.suspect();
          topology?.suspect();
        }
        const reason = failure === 'auth-rejected' ? 'auth-rejected' : 'transient';
        const { code, errno } = errorFacts(error);
        emit('retry', { attempt, reason, code });
        publishLoginFailed({
          ...identity,
          attempt,
          reason,
          willRetry: true,
          code,
          errno,
          error: toIamError(error, endpoint),
        });
      },
      onConnectFailed: (error, attempt, countAsFailure) => {
        if (countAsFailure) counters.connectFailures++;
        emit('connectFailed', { error });
        const { code, errno } = errorFacts(error);
        publishLoginFailed({ ...identity, attempt, reason: 'final', willRetry: false, code, errno, error });
      },
      onAcquired: (ms) => acquireTimes.record(ms),
      onTimeout: (error) => {
        counters.acquireTimeouts++;
        emit('acquireTimeout', { error });
        publishAcquireTimeout({ ...identity, timeoutMs: error.timeoutMs, pool: error.pool, error });
      },
      retire,
      giveBack: (connection) => {
        if (ending) quitConnection(connection);
        else connection.release();
      },
    },
  );

  counts = (): PoolConnectionCounts => {
    const { all, free } = core.counts();
    let opening = 0;
    for (const connection of core.allConnections()) if (!lifetimes.isOpen(connection)) opening++;
    return { total: all, idle: free, borrowed: all - free - opening, opening, waiting: acquirer.waiting };
  };

  let connectionContractChecked = false;
  core.on('connection', (connection: CorePoolConnection) => {
    if (!connectionContractChecked) {
      connectionContractChecked = true;
      try {
        assertConnectionContract(connection);
      } catch (error) {
        // Thrown here it would escape from inside mysql2's connect callback; every borrow gets it.
        acquirer.failWith(error as Error);
      }
    }
    acquirer.noteLogin();
    lifetimes.opened(connection);
    topology?.started();
    watchStatementErrors(connection, (error) => {
      if (roles.statementFailed(connection, error)) topology?.suspect();
    });
    // mysql2 emits 'error' on a connection the server closed while no command ran (an idle one):
    // the writer going away closes them all. Connections the pool closes itself emit no error.
    connection.on('error', (error: { fatal?: unknown }) => {
      if (error?.fatal === true && !ending) {
        roles.suspect();
        topology?.suspect();
      }
    });
  });
  core.on('release', (connection: CorePoolConnection) => {
    lifetimes.released(connection);
    if (ending) quitConnection(connection);
    else if (roles.isCondemned(connection)) retire(connection, 'read-only');
    else if (lifetimes.isRetired(connection)) retire(connection, 'max-lifetime');
  });

  // Idle connections past their lifetime are closed even when nobody borrows them.
  const housekeeping =
    settings.maxLifetimeMs > 0
      ? setInterval(
          () => {
            for (const connection of core.freeConnections()) {
              if (lifetimes.isRetired(connection)) retire(connection, 'max-lifetime');
            }
          },
          Math.min(30_000, Math.max(1000, settings.maxLifetimeMs / 60)),
        )
      : undefined;
  housekeeping?.unref();

  let ended: Promise<void> | undefined;
  const end = (callback: EndCallback) => {
    ended ??= (async () => {
      ending = true;
      clearInterval(housekeeping);
      limiter.close(new IamPoolClosedError());
      acquirer.close();
      login.close();
      topology?.close();
      await drainPool(core, {
        timeoutMs: settings.endTimeoutMs,
        isOpen: (connection) => lifetimes.isOpen(connection),
        onInterrupted: (connection) => {
          counters.connectionsInterrupted++;
          const message: ConnectionRetiredMessage = {
            ...identity,
            reason: 'end-timeout',
            threadId: connection.threadId ?? undefined,
            ageMs: lifetimes.ageMs(connection),
          };
          emit('connectionRetired', message);
          publishConnectionRetired(message);
        },
      });
      await new Promise<void>((resolve, reject) => core.endRaw((err) => (err ? reject(err) : resolve())));
    })();
    ended.then(
      () => callback(null),
      (err: NodeJS.ErrnoException) => callback(err),
    );
  };

  core.setPolicy({ getConnection: (callback) => acquirer.getConnection(callback), end });

  const pool = core.promise() as IamPool;
  Object.defineProperty(pool, 'iam', { value: iam, enumerable: false });
  Object.defineProperty(core, 'iam', { value: iam, enumerable: false });
  return pool;
}

function retirementCounter(reason: RetirementReason): PoolCounter {
  switch (reason) {
    case 'max-lifetime':
      return 'connectionsRetired';
    case 'read-only':
    case 'not-writer':
      return 'wrongRoleRetired';
    default:
      return 'deadOnBorrow';
  }
}

function errorFacts(error: unknown): { code: string | undefined; errno: number | undefined } {
  const e = (error ?? {}) as { code?: unknown; errno?: unknown };
  return {
    code: typeof e.code === 'string' ? e.code : undefined,
    errno: typeof e.errno === 'number' ? e.errno : undefined,
  };
}
