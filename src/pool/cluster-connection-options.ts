/**
 * mysql2 connection options for an Aurora cluster, for libraries that open their own connections
 * from a config (Sequelize's `replication`, MikroORM, your own `mysql.createConnection`): options for
 * write connections, routed to the writer the cluster's topology names, and options for read
 * connections, each routed to the reader instance with the fewest of these read connections. The
 * topology is read by a monitor of its own, whose logins take turns under a login cap as a pool's do.
 */
import mysql, {
  type Connection,
  type ConnectionOptions,
  type PoolConnection as CorePoolConnection,
} from 'mysql2';
import type {
  IamConnectionEvents,
  IamConnectionOptionsInput,
  IamConnectionStats,
} from '../connection/iam-connection-options.js';
import {
  checkConnectionOptions,
  type IamConnectionParts,
  iamConnectionOptions,
} from '../connection/mysql2-options.js';
import { describeValue, IamConnectError, IamOptionsError, IamPoolClosedError } from '../errors.js';
import { type IamHandle, IamLogin } from '../login/login.js';
import {
  DEFAULT_POOL_BEHAVIOUR,
  type IamPoolOptions,
  resolveOptions,
  type TopologyFailoverOptions,
} from '../options.js';
import { clusterDomain } from '../shared/rds-names.js';
import { LoginRateLimiter } from './login-rate.js';
import { connectMonitor } from './monitor-connections.js';
import { ReaderRoute, type ReaderRouteSettings } from './routing.js';
import { AuroraTopology, type TopologyStats } from './topology.js';

/** createIamClusterConnectionOptions' options: the IAM connection options for the cluster, and how reads are routed. */
export type IamClusterConnectionOptionsInput = IamConnectionOptionsInput & {
  /**
   * With no reader instance available, read from the writer over read-only sessions
   * (`SET SESSION TRANSACTION READ ONLY`) instead of failing the read connection's connect. Default
   * true, as for createIamCluster's reader pool.
   */
  reader?: { fallbackToWriter?: boolean };
  /** How the cluster's topology is read (`refreshIntervalMs`: default 30 s; `pollIntervalMs` during a failover). */
  topologyFailover?: TopologyFailoverOptions;
};

/** Counts of a cluster's connection options: logins and tokens (every endpoint), the topology, the read spread. */
export interface IamClusterConnectionStats extends IamConnectionStats {
  /** The cluster as last read: its instances, the writer, where new write connections go. */
  topology: TopologyStats;
  /** Read connections (open and opening) per instance endpoint. */
  connectionsByInstance: Record<string, number>;
}

/** Write and read connection options for one Aurora cluster (see createIamClusterConnectionOptions). */
export interface IamClusterConnectionOptions {
  /** The cluster (writer) endpoint: write connections name it, and are routed to the writer. */
  readonly clusterHost: string;
  /** The reader endpoint: read connections name it, and are routed to a reader instance. */
  readonly readerEndpoint: string;
  /** mysql2 options for write connections. */
  readonly writer: ConnectionOptions & IamConnectionParts;
  /** mysql2 options for read connections. */
  readonly reader: ConnectionOptions & IamConnectionParts;
  /**
   * mysql2, with `createConnection` watched: give it to a library that takes a driver module
   * (Sequelize's `dialectModule`) so the read spread and the failure of a reader see its connections.
   */
  readonly mysql2: typeof mysql;
  /** Resolves once the topology has been read: await it before a connection opens (routing needs it). */
  ready(): Promise<void>;
  /** Token and login stats (with the topology and the read connections per instance), events. */
  readonly iam: IamHandle<IamClusterConnectionStats, IamConnectionEvents>;
  /** Stops the topology monitor and the login cap (the library's connections are its to close). */
  end(): void;
}

/**
 * Connection options for an Aurora cluster (`host`: the cluster or reader endpoint), for libraries
 * that open connections themselves. Each new write connection goes to the writer the topology names;
 * each new read connection to the reader instance (its own endpoint, with a token signed for it)
 * with the fewest read connections, a reader that refused a connect being passed over for a while.
 * Connections the library keeps stay where they are; there is no login retry (a pool has one).
 */
export function createIamClusterConnectionOptions(
  input: IamClusterConnectionOptionsInput,
): IamClusterConnectionOptions {
  const { reader, topologyFailover, ...connectionInput } = input;
  const cluster = followCluster(connectionInput, topologyFailover, checkReaderOption(reader));
  return {
    clusterHost: cluster.clusterHost,
    readerEndpoint: cluster.readerEndpoint,
    writer: cluster.write,
    reader: cluster.read,
    mysql2: cluster.connections.driver(),
    ready: () => cluster.topology.known(),
    iam: cluster.login.view(),
    end: cluster.close,
  };
}

/** What the options follow the cluster with, and the mysql2 options of write and read connections. */
interface FollowedCluster {
  clusterHost: string;
  readerEndpoint: string;
  login: IamLogin;
  topology: AuroraTopology;
  connections: ClusterConnections;
  /** mysql2 options for write connections: routed to the writer the topology names. */
  write: ReturnType<typeof iamConnectionOptions>;
  /** mysql2 options for read connections: routed to the reader with the fewest read connections. */
  read: ReturnType<typeof iamConnectionOptions>;
  /** Stops the topology monitor and the login cap. */
  close(): void;
}

/**
 * One login identity (a token per endpoint, one cache),
 * the cluster topology read by its own monitor (capped logins, as for a pool), and the two sets of
 * mysql2 options whose stream factories choose each connection's instance.
 */
function followCluster(
  connectionInput: IamConnectionOptionsInput,
  topologyFailover: TopologyFailoverOptions | undefined,
  fallbackToWriter: boolean,
): FollowedCluster {
  const { clusterHost, readerEndpoint } = clusterEndpoints(connectionInput.host);
  refusePoolOnlyOptions(connectionInput, topologyFailover);
  const resolved = resolveOptions({
    ...connectionInput,
    host: clusterHost,
    topologyFailover: topologyFailover ?? true,
  } as IamPoolOptions);
  const settings = resolved.topologyFailover as NonNullable<typeof resolved.topologyFailover>;
  const login = new IamLogin(resolved);
  const limiter = new LoginRateLimiter(resolved.pool.maxLoginsPerSecond);
  const topology = new AuroraTopology(
    { clusterHost, ...settings },
    connectMonitor(resolved, login, limiter, settings.pollIntervalMs),
  );
  const connections = new ClusterConnections(topology, {
    readerEndpoint,
    fallbackToWriter,
    cooldownMs: resolved.retry.maxTimeoutMs,
  });
  const write = iamConnectionOptions(resolved, login.hooks(), () => topology.target());
  const read = iamConnectionOptions({ ...resolved, host: readerEndpoint }, login.hooks(), () =>
    connections.nextReader(),
  );
  // What mysql2 will use for each, checked as mysql2 will read it.
  for (const parts of [write, read]) checkConnectionOptions(parts, parts);
  login.handle.extendStats(() => ({
    topology: topology.stats(),
    connectionsByInstance: Object.fromEntries(connections.readsByHost()),
  }));
  return {
    clusterHost,
    readerEndpoint,
    login,
    topology,
    connections,
    write,
    read,
    close: () => {
      topology.close();
      limiter.close(new IamPoolClosedError());
      login.close();
    },
  };
}

/** Options only our pools apply, and a topology turned off: refused rather than ignored. */
function refusePoolOnlyOptions(connectionInput: object, topologyFailover: unknown): void {
  for (const option of ['retry', 'verifyWriter', ...Object.keys(DEFAULT_POOL_BEHAVIOUR)]) {
    if ((connectionInput as Record<string, unknown>)[option] !== undefined) {
      throw new IamOptionsError(
        option,
        'has no effect on connections a library opens itself',
        'Remove it: only a pool created by rds-iam-pool applies it (pass createIamCluster() pools where the library takes a pool).',
      );
    }
  }
  if (topologyFailover === false) {
    throw new IamOptionsError(
      'topologyFailover',
      'is false, but the reads are routed by the cluster topology',
      'Leave it out (or pass its settings), or use createIamConnectionOptions() for one endpoint.',
    );
  }
}

/** The cluster endpoint and the reader endpoint named by `host` (either of them). */
function clusterEndpoints(host: unknown): { clusterHost: string; readerEndpoint: string } {
  const given = typeof host === 'string' ? host : '';
  const domain = clusterDomain(given);
  if (domain === undefined || given.includes('.cluster-custom-')) {
    throw new IamOptionsError(
      'host',
      `must be an Aurora cluster endpoint or reader endpoint (<name>.cluster-[ro-]<id>.<region>.rds.amazonaws.com), got ${describeValue(host)}`,
      'Read and write routing follows the cluster topology; for one endpoint, use createIamConnectionOptions().',
    );
  }
  const name = given.split('.')[0];
  return { clusterHost: `${name}.cluster-${domain}`, readerEndpoint: `${name}.cluster-ro-${domain}` };
}

function checkReaderOption(reader: unknown): boolean {
  if (reader === undefined) return true;
  if (reader === null || typeof reader !== 'object' || Array.isArray(reader)) {
    throw new IamOptionsError(
      'reader',
      `must be an object, got ${describeValue(reader)}`,
      'For example { fallbackToWriter: false }.',
    );
  }
  const { fallbackToWriter, ...unknown } = reader as { fallbackToWriter?: unknown };
  const [extra] = Object.keys(unknown);
  if (extra !== undefined) {
    throw new IamOptionsError(
      `reader.${extra}`,
      'is not a reader option here',
      'The library sizes its own read connections; the reader option is fallbackToWriter.',
    );
  }
  if (fallbackToWriter !== undefined && typeof fallbackToWriter !== 'boolean') {
    throw new IamOptionsError(
      'reader.fallbackToWriter',
      `must be true or false, got ${describeValue(fallbackToWriter)}`,
      'Leave it out for true.',
    );
  }
  return fallbackToWriter ?? true;
}

/**
 * The library's connections, seen through the mysql2 it creates them with: which instance each read
 * connection is on (for the fewest-first choice), which reader failed a connect (passed over for a
 * while, as by the reader pool), and when the topology should be read again at once.
 */
class ClusterConnections {
  readonly #topology: AuroraTopology;
  readonly #settings: ReaderRouteSettings;
  readonly #route: ReaderRoute;
  /** Open and opening connections, and whether each is a read connection. */
  readonly #open = new Map<Connection, 'read' | 'write'>();

  constructor(topology: AuroraTopology, settings: ReaderRouteSettings) {
    this.#topology = topology;
    this.#settings = settings;
    this.#route = new ReaderRoute(topology, () => this.#reads(), settings);
  }

  /** The host for the read connection being opened now (called by its stream factory). */
  nextReader(): string {
    const host = this.#route.next();
    if (!this.#settings.fallbackToWriter && !this.#isReader(host)) {
      throw new IamConnectError(
        'No reader instance of the cluster is available for a read connection, and reader.fallbackToWriter is false',
        undefined,
        "rds-iam-pool's reader pool would wait for a reader; a library that connects at once fails the read. " +
          'Retry it later (Sequelize: its `retry` option), or let reader.fallbackToWriter read from the writer meanwhile.',
      );
    }
    return host;
  }

  /** Read connections per instance endpoint. */
  readsByHost(): Map<string, number> {
    return this.#route.connectionsByHost();
  }

  /** mysql2, whose `createConnection` is watched. */
  driver(): typeof mysql {
    const createConnection = (config: ConnectionOptions) =>
      this.#watch(mysql.createConnection(config), config);
    return { ...mysql, createConnection } as typeof mysql;
  }

  #watch(connection: Connection, config: ConnectionOptions): Connection {
    // The read entry names the reader endpoint; its stream factory, which ran in mysql2's constructor,
    // then set the connection's host to the instance it chose.
    const role = config.host === this.#settings.readerEndpoint ? 'read' : 'write';
    const host = String(connection.config.host);
    this.#open.set(connection, role);
    // The socket the stream factory opened (mysql2 puts TLS on top of it later).
    (connection as unknown as { stream: NodeJS.EventEmitter }).stream.once('close', () =>
      this.#open.delete(connection),
    );
    let connected = false;
    connection.once('connect', () => {
      connected = true;
      if (role === 'read') this.#route.succeeded(host);
    });
    connection.on('error', (error: { fatal?: boolean }) => {
      if (connected && error?.fatal !== true) return;
      // A connect that failed, or a connection lost. Sequelize has no login retry, so each failed
      // connect fails a query: a reader is passed over for a while. As for the pools' connections, a
      // lost one is a sign the writer may have moved; the search that starts reads the topology
      // again at once, so a reader that was removed or failed leaves it too.
      if (role === 'read') this.#route.failed(host);
      this.#topology.writerMayHaveMoved();
    });
    if (role === 'read' && !this.#isReader(host)) {
      // A read connection on the writer (no reader available): read-only, as the reader pool's are.
      // Queued after the login, before anything Sequelize sends.
      connection.query('SET SESSION TRANSACTION READ ONLY', (error) => {
        if (error) connection.destroy();
      });
    }
    return connection;
  }

  #reads(): CorePoolConnection[] {
    const reads: CorePoolConnection[] = [];
    for (const [connection, role] of this.#open) {
      if (role === 'read') reads.push(connection as unknown as CorePoolConnection);
    }
    return reads;
  }

  #isReader(host: string): boolean {
    return this.#topology.instances().some((i) => i.role === 'reader' && i.host === host);
  }
}
