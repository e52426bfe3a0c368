/**
 * TypeORM on an IAM pool. TypeORM's MySQL driver creates its pool through the `driver` module
 * (default: mysql2) with `createPool(options)`; this adapter hands it a module whose `createPool`
 * returns `createIamPool(...)`, keeping every option TypeORM computed (`bigNumberStrings`,
 * `charset`, `timezone`, `poolSize`, `extra`...). TypeORM then queries through our pool: cached
 * token, verified TLS, login retries. `dataSource.destroy()` ends the pool.
 *
 * For an Aurora cluster, `createIamClusterDataSource` turns on TypeORM's own `replication`: TypeORM
 * asks its driver module for a mysql2 PoolCluster and takes `MASTER` connections for writes and
 * `SLAVE*` connections for reads; the module answers with the writer and reader pools of one
 * `createIamCluster`, so reads spread over every reader instance and follow Auto Scaling.
 */
import type { Pool as CorePool, PoolConnection as CorePoolConnection } from 'mysql2';
import { DataSource, type DataSourceOptions, type ReplicationMode } from 'typeorm';
import { IamOptionsError } from '../errors.js';
import type { IamPoolOptions } from '../options.js';
import { createIamCluster, type IamCluster, type IamClusterOptions } from '../pool/cluster.js';
import { createIamPool, type IamPool, type IamPoolHandle } from '../pool/iam-pool.js';

type MysqlDataSourceOptions = Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' }>;

/** TypeORM's MySQL / MariaDB options, minus what the IAM pool provides. */
export type IamDataSourceOptions = Omit<
  MysqlDataSourceOptions,
  | 'driver'
  | 'connectorPackage'
  | 'url'
  | 'host'
  | 'port'
  | 'username'
  | 'password'
  | 'database'
  | 'ssl'
  | 'socketPath'
  | 'replication'
>;

/** A TypeORM DataSource whose MySQL driver queries through an IAM pool. */
export type IamDataSource = DataSource & {
  /** The IAM pool's stats, events and `invalidateToken()`; available once `initialize()` ran. */
  readonly iam: IamPoolHandle;
  /** The IAM pool TypeORM queries through, once `initialize()` ran. */
  readonly iamPool: IamPool | undefined;
};

/**
 * Creates a TypeORM DataSource (type `mysql` or `mariadb`) whose pool is `createIamPool(options)`.
 * `options.database` is the DataSource's database. For replication on an Aurora cluster, use
 * createIamClusterDataSource.
 */
export function createIamDataSource(
  options: IamPoolOptions,
  dataSourceOptions: IamDataSourceOptions,
): IamDataSource {
  let current: IamPool | undefined;
  const driver = {
    /** Called by TypeORM's MysqlDriver on `initialize()` with the mysql2 pool options it computed. */
    createPool(typeOrmPoolOptions: Record<string, unknown>): CorePool {
      current = createIamPool({ ...definedOnly(typeOrmPoolOptions), ...options } as IamPoolOptions);
      return current.pool;
    },
    createPoolCluster(): never {
      throw new IamOptionsError(
        'replication',
        'is not supported by createIamDataSource',
        "For an Aurora cluster use createIamClusterDataSource (its writer and reader pools are TypeORM's master and slaves).",
      );
    },
  };
  const dataSource = new DataSource({
    ...dataSourceOptions,
    ...(options.database === undefined ? {} : { database: options.database }),
    driver,
  } as DataSourceOptions);
  Object.defineProperties(dataSource, {
    iam: {
      enumerable: false,
      get(): IamPoolHandle {
        if (!current) throw new Error('The IAM pool exists once dataSource.initialize() has run');
        return current.iam;
      },
    },
    iamPool: { enumerable: false, get: () => current },
  });
  return dataSource as IamDataSource;
}

/** createIamClusterDataSource's TypeORM options: replication is set up by the adapter; `defaultMode` may be chosen. */
export type IamClusterDataSourceOptions = IamDataSourceOptions & {
  replication?: {
    /**
     * Where TypeORM's SELECT query builders (find, findOne, getMany...) go by default: 'slave' (the
     * reader pool, TypeORM's default) or 'master' (the writer pool; then only query runners created
     * with `createQueryRunner('slave')` read from readers).
     */
    readonly defaultMode?: ReplicationMode;
  };
};

/** A TypeORM DataSource whose replication master and slaves are the pools of one Aurora cluster object. */
export type IamClusterDataSource = DataSource & {
  /** The writer and reader pools (stats, events), once `initialize()` ran; undefined before. */
  readonly iamCluster: IamCluster | undefined;
};

/**
 * Creates a TypeORM DataSource (type `mysql` or `mariadb`) with `replication` on an Aurora cluster:
 * `createIamCluster(options)` is created at `initialize()`, its writer pool is TypeORM's master and its
 * reader pool the one slave. Query builders for SELECT (repositories' `find*`, `getMany`...) read from
 * the reader pool; `save`, `insert`, `update`, `delete`, `dataSource.query()`, transactions, migrations
 * and schema sync use the writer. `dataSource.destroy()` ends both pools.
 */
export function createIamClusterDataSource(
  options: IamClusterOptions,
  dataSourceOptions: IamClusterDataSourceOptions,
): IamClusterDataSource {
  let current: IamCluster | undefined;
  const credentials = options.database === undefined ? {} : { database: options.database };
  const driver = {
    createPool(): never {
      throw new Error('createIamClusterDataSource: TypeORM asked for a pool without replication');
    },
    /**
     * Called by TypeORM's MysqlDriver on `initialize()`; it then add()s one SLAVE and the MASTER with
     * the mysql2 options it computed (the same for both: the credentials are the adapter's own).
     */
    createPoolCluster(): TypeOrmPoolCluster {
      let cluster: IamCluster | undefined;
      const pools = () => {
        if (!cluster) throw new Error('TypeORM asked for a connection before adding a node');
        return cluster;
      };
      return {
        add(_name, typeOrmPoolOptions) {
          if (cluster) return;
          cluster = createIamCluster({ ...definedOnly(typeOrmPoolOptions), ...options } as IamClusterOptions);
          current = cluster;
        },
        getConnection(pattern, ...rest) {
          // mysql2's signature: (pattern, [selector], callback); TypeORM passes no selector.
          const callback = rest[rest.length - 1] as GetConnectionCallback;
          const pool = pattern === 'MASTER' ? pools().writer.pool : pools().reader.pool;
          pool.getConnection(callback);
        },
        end(callback) {
          (cluster ? cluster.end() : Promise.resolve()).then(() => callback(null), callback);
        },
      };
    },
  };
  const dataSource = new DataSource({
    ...dataSourceOptions,
    ...credentials,
    replication: { ...dataSourceOptions.replication, master: credentials, slaves: [credentials] },
    driver,
  } as DataSourceOptions);
  Object.defineProperty(dataSource, 'iamCluster', { enumerable: false, get: () => current });
  return dataSource as IamClusterDataSource;
}

/** The part of mysql2's PoolCluster TypeORM's MysqlDriver uses (typeorm 1.1: add, getConnection, end). */
interface TypeOrmPoolCluster {
  add(name: string, options: Record<string, unknown>): void;
  getConnection(
    pattern: string,
    ...selectorAndCallback: [GetConnectionCallback] | [string, GetConnectionCallback]
  ): void;
  end(callback: (error: unknown) => void): void;
}

type GetConnectionCallback = (error: NodeJS.ErrnoException | null, connection: CorePoolConnection) => void;

/** The options TypeORM computed, without those it left undefined (the IAM options fill them). */
function definedOnly(computed: Record<string, unknown>): Record<string, unknown> {
  const defined: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(computed)) {
    if (value !== undefined) defined[key] = value;
  }
  return defined;
}
