/**
 * Every way options reach mysql2, for the effective-config fuzz property: the two library entry
 * points and each adapter, with the config mysql2 then really uses. Nothing here connects.
 */
import { createIamDrizzle } from '../../src/adapters/drizzle.js';
import { createIamKnex } from '../../src/adapters/knex.js';
import { IamMysqlDialect } from '../../src/adapters/kysely.js';
import { createIamSequelize } from '../../src/adapters/sequelize.js';
import { createIamDataSource } from '../../src/adapters/typeorm.js';
import {
  createIamConnectionOptions,
  createIamPool,
  type IamPool,
  type IamPoolOptions,
} from '../../src/index.js';
import { effectiveConnectionConfig } from '../../src/mysql2-boundary.js';
import type { EntryPoint } from './fuzz-properties.js';

type Options = Record<string, unknown>;

/** The connection config of a mysql2 pool, as mysql2 derived it. */
function poolConfig(pool: { config: unknown }): Options {
  return (pool.config as { connectionConfig: Options }).connectionConfig;
}

async function ended<T>(pool: IamPool, value: T): Promise<T> {
  await pool.end();
  return value;
}

export const ENTRY_POINTS: readonly EntryPoint[] = [
  {
    name: 'createIamPool',
    build: async (iam, extra) => {
      const pool = createIamPool({ ...iam, ...extra } as unknown as IamPoolOptions);
      return ended(pool, poolConfig(pool.pool));
    },
  },
  {
    name: 'createIamConnectionOptions',
    // What a library that opens connections itself hands to mysql.createConnection.
    build: async (iam, extra) =>
      effectiveConnectionConfig(createIamConnectionOptions({ ...iam, ...extra } as never)),
  },
  {
    name: 'Sequelize dialectOptions',
    build: async (iam, extra) => {
      const sequelize = createIamSequelize(iam as never, { dialectOptions: extra, logging: false });
      const dialectOptions = (sequelize.config as unknown as { dialectOptions: Options }).dialectOptions;
      await sequelize.close();
      // Sequelize's mysql connection manager: its defaults, then every dialectOptions entry.
      return effectiveConnectionConfig({
        host: sequelize.config.host,
        port: sequelize.config.port,
        user: sequelize.config.username,
        flags: '-FOUND_ROWS',
        bigNumberStrings: false,
        supportBigNumbers: true,
        ...dialectOptions,
      });
    },
  },
  {
    name: 'TypeORM extra',
    build: async (iam, extra) => {
      const dataSource = createIamDataSource(iam as unknown as IamPoolOptions, { type: 'mysql', extra });
      // What TypeORM's MysqlDriver does on initialize(), short of connecting: compute the pool
      // options (extra merged last) and create the pool through the driver module.
      const driver = dataSource.driver as unknown as {
        createConnectionOptions(options: unknown, credentials: unknown): Promise<Options>;
      };
      const computed = await driver.createConnectionOptions(dataSource.options, dataSource.options);
      const module = (dataSource.options as { driver: { createPool(o: Options): { config: unknown } } })
        .driver;
      const core = module.createPool(computed);
      const config = poolConfig(core);
      await dataSource.iamPool?.end();
      return config;
    },
  },
  {
    name: 'Knex',
    build: async (iam, extra) => {
      const db = createIamKnex({ ...iam, ...extra } as unknown as IamPoolOptions);
      const config = poolConfig(db.iamPool.pool);
      await db.destroy();
      return config;
    },
  },
  {
    name: 'Kysely',
    build: async (iam, extra) => {
      const dialect = new IamMysqlDialect({ ...iam, ...extra } as unknown as IamPoolOptions);
      return ended(dialect.pool, poolConfig(dialect.pool.pool));
    },
  },
  {
    name: 'Drizzle',
    build: async (iam, extra) => {
      const db = createIamDrizzle({ ...iam, ...extra } as unknown as IamPoolOptions);
      return ended(db.$client, poolConfig(db.$client.pool));
    },
  },
];
