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
 * Sequelize takes no pool, so the routing comes from createIamClusterConnectionOptions (connection
 * options for libraries that open their own connections), as the public API offers it.
 */
import { type Options, Sequelize } from 'sequelize';
import {
  createIamConnectionOptions,
  type IamConnectionHandle,
  type IamConnectionOptionsInput,
} from '../connection/iam-connection-options.js';
import { checkConnectionOptions } from '../connection/mysql2-options.js';
import { IamOptionsError } from '../errors.js';
import { type IamPoolOptions, resolveOptions } from '../options.js';
import {
  createIamClusterConnectionOptions,
  type IamClusterConnectionOptions,
  type IamClusterConnectionOptionsInput,
  type IamClusterConnectionStats,
} from '../pool/cluster-connection-options.js';

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
export type IamSequelizeClusterOptions = IamClusterConnectionOptionsInput;

/** Counts of a Sequelize cluster instance: logins and tokens (every endpoint), the topology, the read spread. */
export type IamSequelizeClusterStats = IamClusterConnectionStats;

/** A Sequelize instance with replication on an Aurora cluster. */
export type IamSequelizeCluster = Sequelize & {
  /** Token and login stats (with the topology and the read connections per instance), events, `invalidateToken()`. */
  readonly iam: IamClusterConnectionOptions['iam'];
};

/**
 * Creates a Sequelize instance with `replication` on an Aurora cluster (`host`: the cluster or reader
 * endpoint). Sequelize keeps a write pool and a read pool and sends SELECTs outside transactions to
 * the read pool. With createIamClusterConnectionOptions, each new read connection goes to the reader
 * instance (its own endpoint, with a token signed for it) with the fewest of Sequelize's read
 * connections, among the readers the cluster's topology lists now; a reader that refused a connect
 * is passed over for a while. Each new write connection goes to the writer the topology names.
 * Connections Sequelize keeps stay where they are: see docs/orms.md for `pool.maxUses`, which lets
 * reads move onto readers added later.
 */
export function createIamSequelizeCluster(
  options: IamSequelizeClusterOptions,
  sequelizeOptions: IamSequelizeOptions = {},
): IamSequelizeCluster {
  const { reader, topologyFailover, ...connectionInput } = options;
  const dialectOptions = checkSequelizeOptions(connectionInput, sequelizeOptions);
  const cluster = createIamClusterConnectionOptions({
    ...dialectOptions,
    ...connectionInput,
    ...(reader === undefined ? {} : { reader }),
    ...(topologyFailover === undefined ? {} : { topologyFailover }),
  } as IamClusterConnectionOptionsInput);
  // The options Sequelize will hand mysql2 for each entry, checked as mysql2 will read them.
  for (const parts of [cluster.writer, cluster.reader]) {
    checkConnectionOptions({ database: options.database, flags: ['-FOUND_ROWS'], ...parts }, parts);
  }
  const endpoint = { port: cluster.writer.port, username: cluster.writer.user };
  const sequelize = new Sequelize({
    ...sequelizeOptions,
    dialect: 'mysql',
    dialectModule: cluster.mysql2,
    ...(options.database === undefined ? {} : { database: options.database }),
    // Sequelize fills each replication entry from the top-level options (dialectOptions included)
    // unless the entry has its own: the write entry takes the top level's, the one read entry its own.
    dialectOptions: { ...dialectOptions, ...cluster.writer },
    replication: {
      write: { host: cluster.clusterHost, ...endpoint },
      read: [
        {
          host: cluster.readerEndpoint,
          ...endpoint,
          dialectOptions: { ...dialectOptions, ...cluster.reader },
        },
      ],
    } as unknown as Options['replication'],
  });
  // Route by a topology that has been read: every new connection waits for the first read (bounded
  // by the monitor's own timeouts); later ones find it done.
  sequelize.addHook('beforeConnect', 'rds-iam-pool:topology', async () => {
    await cluster.ready();
  });
  const close = sequelize.close.bind(sequelize);
  Object.defineProperty(sequelize, 'close', {
    enumerable: false,
    value: async () => {
      try {
        await close();
      } finally {
        cluster.end();
      }
    },
  });
  Object.defineProperty(sequelize, 'iam', { value: cluster.iam, enumerable: false });
  return sequelize as IamSequelizeCluster;
}
