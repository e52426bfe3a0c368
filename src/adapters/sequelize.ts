/**
 * Sequelize v6 with IAM login. Sequelize accepts no external pool: it creates every connection
 * itself with `mysql2.createConnection({ host, port, user, ...dialectOptions })`. The IAM parts go in
 * through `dialectOptions` (TLS, the token plugin, the tunnel stream), and no password is ever set:
 * each login asks one shared token cache for its token, so nothing goes stale after 15 minutes and a
 * refresh window costs one signing however many connections Sequelize opens.
 *
 * For an Aurora cluster, `createIamSequelizeCluster` turns on Sequelize's own `replication` (a write
 * pool and a read pool) and chooses each new connection's instance from the cluster's topology: the
 * writer for writes, the reader instance with the fewest of Sequelize's read connections for reads.
 * Unlike the other adapters it builds on parts below the public API (the topology, its monitor
 * connections, the reader route, routed connection options): the public API has a cluster object for
 * pools only, and Sequelize takes no pool.
 */
import mysql, {
  type Connection,
  type ConnectionOptions,
  type PoolConnection as CorePoolConnection,
} from 'mysql2';
import { type Options, Sequelize } from 'sequelize';
import {
  createIamConnectionOptions,
  type IamConnectionEvents,
  type IamConnectionHandle,
  type IamConnectionOptionsInput,
  type IamConnectionStats,
} from '../connection/iam-connection-options.js';
import { checkConnectionOptions, iamConnectionOptions } from '../connection/mysql2-options.js';
import { describeValue, IamConnectError, IamOptionsError, IamPoolClosedError } from '../errors.js';
import { type IamHandle, IamLogin } from '../login/login.js';
import {
  DEFAULT_POOL_BEHAVIOUR,
  type IamPoolOptions,
  type ResolvedIamOptions,
  resolveOptions,
  type TopologyFailoverOptions,
} from '../options.js';
import { LoginRateLimiter } from '../pool/login-rate.js';
import { connectMonitor } from '../pool/monitor-connections.js';
import { ReaderRoute, type ReaderRouteSettings } from '../pool/routing.js';
import { AuroraTopology, type TopologyStats } from '../pool/topology.js';
import { clusterDomain } from '../shared/rds-names.js';

/** Sequelize's options, minus what IAM login provides (dialect, endpoint, credentials, database). */
export type IamSequelizeOptions = Omit<
  Options,
  | 'dialect'
  | 'dialectModule'
  | 'dialectModulePath'
  | 'host'
  | 'port'
  | 'username'
  | 'password'
  | 'database'
  | 'replication'
  | 'native'
  | 'ssl'
>;

/** A Sequelize instance whose connections log in with IAM tokens. */
export type IamSequelize = Sequelize & {
  /** Token and login stats, events and `invalidateToken()`. */
  readonly iam: IamConnectionHandle;
};

/**
 * Creates a Sequelize instance (dialect `mysql`, driver mysql2) for an IAM user. `options` are
 * the IAM options plus mysql2 connection options (`database`, `charset`...); `sequelizeOptions` are
 * Sequelize's own (`pool`, `logging`, `define`, `retry`...). There is no login retry inside a
 * connect: see docs/orms.md for Sequelize's `retry.match`.
 */
export function createIamSequelize(
  options: IamConnectionOptionsInput,
  sequelizeOptions: IamSequelizeOptions = {},
): IamSequelize {
  const dialectOptions = checkSequelizeOptions(options, sequelizeOptions);
  const connection = createIamConnectionOptions({
    ...dialectOptions,
    ...options,
  } as IamConnectionOptionsInput);
  // Spread last by Sequelize into mysql2's options: TLS, the token plugin and the stream.
  const iamDialectOptions = { ...dialectOptions, ...connection };
  // The options Sequelize will hand mysql2 (lib/dialects/mysql/connection-manager.js), checked
  // as mysql2 will read them.
  checkConnectionOptions(
    { database: options.database, flags: ['-FOUND_ROWS'], ...iamDialectOptions },
    connection,
  );
  const sequelize = new Sequelize({
    ...sequelizeOptions,
    dialect: 'mysql',
    host: connection.host,
    port: connection.port,
    username: connection.user,
    ...(options.database === undefined ? {} : { database: options.database }),
    dialectOptions: iamDialectOptions,
  });
  Object.defineProperty(sequelize, 'iam', { value: connection.iam, enumerable: false });
  return sequelize as IamSequelize;
}

/**
 * Refuses Sequelize options that would fight IAM login, and checks `dialectOptions` (mysql2
 * connection options too) exactly like the IAM options' own; returns them.
 */
function checkSequelizeOptions(
  options: IamConnectionOptionsInput,
  sequelizeOptions: IamSequelizeOptions,
): Record<string, unknown> {
  const dialectOptions = (sequelizeOptions.dialectOptions ?? {}) as Record<string, unknown>;
  for (const key of ['password', 'host', 'username'] as const) {
    if ((sequelizeOptions as Record<string, unknown>)[key] !== undefined) {
      throw new IamOptionsError(
        key,
        'is set in the Sequelize options, but IAM login manages it',
        'Remove it; the IAM options (the first argument) name the endpoint and user.',
      );
    }
  }
  // dialectOptions are mysql2 connection options too: they are checked exactly like the IAM
  // options' own (owned options, debug, uri, TLS...), and errors name them as dialectOptions.*.
  for (const [key, value] of Object.entries(dialectOptions)) {
    if (value === undefined) continue;
    try {
      resolveOptions({ ...options, [key]: value } as IamPoolOptions);
    } catch (error) {
      if (error instanceof IamOptionsError) throw error.under('dialectOptions');
      throw error;
    }
  }
  return dialectOptions;
}

/** Options of createIamSequelizeCluster: the IAM connection options for the cluster, plus how reads are routed. */
export type IamSequelizeClusterOptions = IamConnectionOptionsInput & {
  /**
   * With no reader instance available, read from the writer over read-only sessions
   * (`SET SESSION TRANSACTION READ ONLY`) instead of failing the read's connect. Default true, as for
   * createIamCluster's reader pool.
   */
  reader?: { fallbackToWriter?: boolean };
  /** How the cluster's topology is read (`refreshIntervalMs`: default 30 s; `pollIntervalMs` during a failover). */
  topologyFailover?: TopologyFailoverOptions;
};

/** Counts of a Sequelize cluster instance: logins and tokens (every endpoint), the topology, the read spread. */
export interface IamSequelizeClusterStats extends IamConnectionStats {
  /** The cluster as last read: its instances, the writer, where new write connections go. */
  topology: TopologyStats;
  /** Sequelize's read connections (open and opening) per instance endpoint. */
  connectionsByInstance: Record<string, number>;
}

/** A Sequelize instance with replication on an Aurora cluster. */
export type IamSequelizeCluster = Sequelize & {
  /** Token and login stats (with the topology and the read connections per instance), events, `invalidateToken()`. */
  readonly iam: IamHandle<IamSequelizeClusterStats, IamConnectionEvents>;
};

/**
 * Creates a Sequelize instance with `replication` on an Aurora cluster (`host`: the cluster or reader
 * endpoint). Sequelize keeps a write pool and a read pool and sends SELECTs outside transactions to
 * the read pool. Here each new read connection goes to the reader instance (its own endpoint, with a
 * token signed for it) with the fewest of Sequelize's read connections, among the readers the cluster's
 * topology lists now; a reader that refused a connect is passed over for a while. Each new write
 * connection goes to the writer the topology names (the cluster endpoint, or the new writer's instance
 * endpoint after a failover). Connections Sequelize keeps stay where they are: see docs/orms.md for
 * `pool.maxUses`, which lets reads move onto readers added later.
 */
export function createIamSequelizeCluster(
  options: IamSequelizeClusterOptions,
  sequelizeOptions: IamSequelizeOptions = {},
): IamSequelizeCluster {
  const { reader, topologyFailover, ...connectionInput } = options;
  const dialectOptions = checkSequelizeOptions(connectionInput, sequelizeOptions);
  const cluster = followCluster(connectionInput, dialectOptions, topologyFailover, checkReaderOption(reader));
  const endpoint = { port: cluster.resolved.port, username: cluster.resolved.user };
  const sequelize = new Sequelize({
    ...sequelizeOptions,
    dialect: 'mysql',
    dialectModule: cluster.connections.dialectModule(),
    ...(options.database === undefined ? {} : { database: options.database }),
    // Sequelize fills each replication entry from the top-level options (dialectOptions included)
    // unless the entry has its own: the write entry takes the top level's, the one read entry its own.
    dialectOptions: { ...dialectOptions, ...cluster.write },
    replication: {
      write: { host: cluster.clusterHost, ...endpoint },
      read: [
        { host: cluster.readerEndpoint, ...endpoint, dialectOptions: { ...dialectOptions, ...cluster.read } },
      ],
    } as unknown as Options['replication'],
  });
  // Route by a topology that has been read: every new connection waits for the first read (bounded
  // by the monitor's own timeouts); later ones find it done.
  sequelize.addHook('beforeConnect', 'rds-iam-pool:topology', async () => {
    await cluster.topology.known();
  });
  const close = sequelize.close.bind(sequelize);
  Object.defineProperty(sequelize, 'close', {
    enumerable: false,
    value: async () => {
      try {
        await close();
      } finally {
        cluster.close();
      }
    },
  });
  Object.defineProperty(sequelize, 'iam', { value: cluster.login.view(), enumerable: false });
  return sequelize as IamSequelizeCluster;
}

/** What createIamSequelizeCluster follows the cluster with, and the mysql2 options of its two entries. */
interface FollowedCluster {
  resolved: ResolvedIamOptions;
  clusterHost: string;
  readerEndpoint: string;
  login: IamLogin;
  topology: AuroraTopology;
  connections: SequelizeConnections;
  /** mysql2 options for write connections: routed to the writer the topology names. */
  write: ReturnType<typeof iamConnectionOptions>;
  /** mysql2 options for read connections: routed to the reader with the fewest read connections. */
  read: ReturnType<typeof iamConnectionOptions>;
  /** Stops the topology monitor and the login cap (Sequelize closed). */
  close(): void;
}

/**
 * The IAM side of a Sequelize cluster instance: one login identity (a token per endpoint, one cache),
 * the cluster topology read by its own monitor (capped logins, as for a pool), and the two sets of
 * mysql2 options whose stream factories choose each connection's instance.
 */
function followCluster(
  connectionInput: IamConnectionOptionsInput,
  dialectOptions: Record<string, unknown>,
  topologyFailover: TopologyFailoverOptions | undefined,
  fallbackToWriter: boolean,
): FollowedCluster {
  const { clusterHost, readerEndpoint } = clusterEndpoints(connectionInput.host);
  refusePoolOnlyOptions(connectionInput, topologyFailover);
  const resolved = resolveOptions({
    ...dialectOptions,
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
  const connections = new SequelizeConnections(topology, {
    readerEndpoint,
    fallbackToWriter,
    cooldownMs: resolved.retry.maxTimeoutMs,
  });
  const write = iamConnectionOptions(resolved, login.hooks(), () => topology.target());
  const read = iamConnectionOptions({ ...resolved, host: readerEndpoint }, login.hooks(), () =>
    connections.nextReader(),
  );
  // The options Sequelize will hand mysql2 for each entry, checked as mysql2 will read them.
  for (const parts of [write, read]) {
    checkConnectionOptions({ database: connectionInput.database, flags: ['-FOUND_ROWS'], ...parts }, parts);
  }
  login.handle.extendStats(() => ({
    topology: topology.stats(),
    connectionsByInstance: Object.fromEntries(connections.readsByHost()),
  }));
  return {
    resolved,
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
        'has no effect on the connections Sequelize opens itself',
        'Remove it: only a pool created by rds-iam-pool applies it (Sequelize takes no external pool).',
      );
    }
  }
  if (topologyFailover === false) {
    throw new IamOptionsError(
      'topologyFailover',
      'is false, but the reads are routed by the cluster topology',
      'Leave it out (or pass its settings), or use createIamSequelize() for one endpoint.',
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
      'Replication follows the cluster topology; for one endpoint, use createIamSequelize().',
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
      'Sequelize sizes its read pool itself (`pool.max`); the reader option is fallbackToWriter.',
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
 * Sequelize's connections, seen through the `dialectModule` it creates them with: which instance
 * each read connection is on (for the fewest-first choice), which reader failed a connect (passed over
 * for a while, as by the reader pool), and when the topology should be read again at once.
 */
class SequelizeConnections {
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
        "rds-iam-pool's reader pool would wait for a reader; Sequelize connects at once, so this read failed. " +
          "Sequelize's `retry` option can run it again later, or reader.fallbackToWriter reads from the writer meanwhile.",
      );
    }
    return host;
  }

  /** Read connections per instance endpoint. */
  readsByHost(): Map<string, number> {
    return this.#route.connectionsByHost();
  }

  /** mysql2 for Sequelize (`dialectModule`), whose `createConnection` (all Sequelize calls) is watched. */
  dialectModule(): object {
    const createConnection = (config: ConnectionOptions) =>
      this.#watch(mysql.createConnection(config), config);
    return { ...mysql, createConnection };
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
