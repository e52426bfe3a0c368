/**
 * Knex on an IAM pool. Knex 3.3 takes an external mysql2 pool (`connectionPool`), so every new
 * connection goes through `createIamPool`: one signing per refresh window, verified TLS, login
 * retries with a fresh token. A small client subclass covers what Knex does not do for an external
 * pool: it knows the database name (`columnInfo()` and foreign-key helpers need it), borrows a pool
 * connection to cancel a query, and `destroy()` ends the pool it was created with. Knex has no read
 * replica support of its own: for an Aurora cluster, `createIamKnexCluster` gives one Knex instance
 * on the cluster's writer pool and one on its reader pool, the pair Knex users route between.
 */
import type { Knex } from 'knex';
import knex from 'knex';
// @ts-expect-error knex publishes no types for its dialect modules; the parts used are typed below.
import Mysql2ClientModule from 'knex/lib/dialects/mysql2/index.js';
import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { IamPoolOptions } from '../options.js';
import { createIamCluster, type IamCluster, type IamClusterOptions } from '../pool/cluster.js';
import { createIamPool, type IamPool, type IamPoolHandle } from '../pool/iam-pool.js';

/** Knex's config, minus what the IAM pool provides (connection settings and the pool itself). */
export type IamKnexConfig = Omit<Knex.Config, 'client' | 'connection' | 'connectionPool' | 'pool'>;

/** A Knex instance on an IAM pool; `destroy()` ends the pool. */
export type IamKnex<TRecord extends {} = any, TResult = unknown[]> = Knex<TRecord, TResult> & {
  /** Token and login stats, events and `invalidateToken()` of the pool underneath. */
  readonly iam: IamPoolHandle;
  /** The IAM pool Knex queries through. */
  readonly iamPool: IamPool;
};

/** The parts of Knex's mysql2 client this adapter overrides. */
interface Mysql2ClientInternals {
  config: Knex.Config & { iamPool?: IamPool; iamDatabase?: string };
  database(): string | undefined;
  acquireRawConnection(): Promise<unknown>;
  destroyRawConnection(connection: unknown): Promise<void>;
  destroy(callback?: (error?: unknown) => void): Promise<void>;
}
const Mysql2Client = Mysql2ClientModule as new (config: Knex.Config) => Mysql2ClientInternals;

class IamKnexClient extends Mysql2Client {
  #poolEnded = false;

  /** With an external pool Knex forgets the connection settings; the database name is kept here. */
  override database(): string | undefined {
    return this.config.iamDatabase;
  }

  /** Knex opens a side connection only to send KILL QUERY; borrow one from the IAM pool instead. */
  override acquireRawConnection(): Promise<CorePoolConnection> {
    const pool = this.#pool();
    return new Promise((resolve, reject) =>
      pool.pool.getConnection((err, connection) => (err ? reject(err) : resolve(connection))),
    );
  }

  override async destroyRawConnection(connection: unknown): Promise<void> {
    (connection as CorePoolConnection).release();
  }

  /** Knex does not end an external pool; this one was created for this instance, so it does. */
  override async destroy(callback?: (error?: unknown) => void): Promise<void> {
    try {
      await super.destroy();
      if (!this.#poolEnded) {
        this.#poolEnded = true;
        await this.#pool().end();
      }
    } catch (error) {
      if (callback) return callback(error);
      throw error;
    }
    callback?.();
  }

  #pool(): IamPool {
    const pool = this.config.iamPool;
    if (!pool) throw new Error('IamKnexClient was created without an IAM pool');
    return pool;
  }
}

/**
 * Creates an IAM pool and a Knex instance on it. `config` is Knex's own, without `client`,
 * `connection` and `pool`: size the pool with the IAM options (`connectionLimit`, `maxIdle`,
 * `idleTimeout`...). `await db.destroy()` ends the pool.
 */
export function createIamKnex<TRecord extends {} = any, TResult = unknown[]>(
  options: IamPoolOptions,
  config: IamKnexConfig = {},
): IamKnex<TRecord, TResult> {
  return knexOnPool(createIamPool(options), options.database, config);
}

/**
 * An Aurora cluster as Knex users split reads from writes: two Knex instances, one per pool of one
 * `createIamCluster`. Send writes, transactions and reads that must see them to `writer`; reads to
 * `reader`, whose pool spreads its connections over the reader instances and follows Auto Scaling.
 */
export interface IamKnexCluster<TRecord extends {} = any, TResult = unknown[]> {
  /** Knex on the writer pool (follows the writer through failovers). Migrations run here. */
  readonly writer: IamKnex<TRecord, TResult>;
  /** Knex on the reader pool: reader instances only (or the writer, read-only, per `reader.fallbackToWriter`). */
  readonly reader: IamKnex<TRecord, TResult>;
  /** Both pools: `cluster.stats()`, and `cluster.writer` / `cluster.reader` as mysql2 pools. */
  readonly cluster: IamCluster;
  /** Destroys both Knex instances and ends the cluster's pools and topology monitor. */
  destroy(): Promise<void>;
}

/**
 * Creates the writer and reader pools of an Aurora cluster (`createIamCluster(options)`) and a Knex
 * instance on each. `config` is Knex's own (as for `createIamKnex`), used for both.
 */
export function createIamKnexCluster<TRecord extends {} = any, TResult = unknown[]>(
  options: IamClusterOptions,
  config: IamKnexConfig = {},
): IamKnexCluster<TRecord, TResult> {
  const cluster = createIamCluster(options);
  const writer = knexOnPool<TRecord, TResult>(cluster.writer, options.database, config);
  const reader = knexOnPool<TRecord, TResult>(cluster.reader, options.database, config);
  let destroyed: Promise<void> | undefined;
  return {
    writer,
    reader,
    cluster,
    destroy: () => {
      destroyed ??= Promise.allSettled([writer.destroy(), reader.destroy()]).then(async (results) => {
        await cluster.end();
        for (const result of results) if (result.status === 'rejected') throw result.reason;
      });
      return destroyed;
    },
  };
}

/** A Knex instance on `iamPool` (which its `destroy()` ends). */
function knexOnPool<TRecord extends {}, TResult>(
  iamPool: IamPool,
  database: string | undefined,
  config: IamKnexConfig,
): IamKnex<TRecord, TResult> {
  const instance = knex<TRecord, TResult>({
    ...config,
    client: IamKnexClient as unknown as typeof knex.Client,
    connectionPool: iamPool.pool,
    iamPool,
    iamDatabase: database,
  } as Knex.Config);
  Object.defineProperties(instance, {
    iam: { value: iamPool.iam, enumerable: false },
    iamPool: { value: iamPool, enumerable: false },
  });
  return instance as IamKnex<TRecord, TResult>;
}
