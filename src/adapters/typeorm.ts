/**
 * TypeORM on an IAM pool. TypeORM's MySQL driver creates its pool through the `driver` module
 * (default: mysql2) with `createPool(options)`; this adapter hands it a module whose `createPool`
 * returns `createIamPool(...)`, keeping every option TypeORM computed (`bigNumberStrings`,
 * `charset`, `timezone`, `poolSize`, `extra`...). TypeORM then queries through our pool: cached
 * token, verified TLS, login retries. `dataSource.destroy()` ends the pool.
 */
import type { Pool as CorePool } from 'mysql2';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { IamOptionsError } from '../errors.js';
import type { IamPoolOptions } from '../options.js';
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
 * `options.database` is the DataSource's database. Replication is not supported: each node would
 * need its own endpoint and token (create one DataSource per endpoint instead).
 */
export function createIamDataSource(
  options: IamPoolOptions,
  dataSourceOptions: IamDataSourceOptions,
): IamDataSource {
  let current: IamPool | undefined;
  const driver = {
    /** Called by TypeORM's MysqlDriver on `initialize()` with the mysql2 pool options it computed. */
    createPool(typeOrmPoolOptions: Record<string, unknown>): CorePool {
      const computed: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(typeOrmPoolOptions)) {
        if (value !== undefined) computed[key] = value;
      }
      current = createIamPool({ ...computed, ...options } as IamPoolOptions);
      return current.pool;
    },
    createPoolCluster(): never {
      throw new IamOptionsError(
        'replication',
        'is not supported by the IAM DataSource',
        'Each replica has its own endpoint and token: create one DataSource per endpoint.',
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
