/**
 * Knex on an IAM pool. Knex 3.3 takes an external mysql2 pool (`connectionPool`), so every new
 * connection goes through `createIamPool`: one signing per refresh window, verified TLS, login
 * retries with a fresh token. A small client subclass covers what Knex does not do for an external
 * pool: it knows the database name (`columnInfo()` and foreign-key helpers need it), borrows a pool
 * connection to cancel a query, and `destroy()` ends the pool it was created with.
 */
import type { Knex } from 'knex';
import knex from 'knex';
// @ts-expect-error knex publishes no types for its dialect modules; the parts used are typed below.
import Mysql2ClientModule from 'knex/lib/dialects/mysql2/index.js';
import type { PoolConnection as CorePoolConnection } from 'mysql2';
import type { IamPoolOptions } from '../options.js';
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
  const iamPool = createIamPool(options);
  const instance = knex<TRecord, TResult>({
    ...config,
    client: IamKnexClient as unknown as typeof knex.Client,
    connectionPool: iamPool.pool,
    iamPool,
    iamDatabase: options.database,
  } as Knex.Config);
  Object.defineProperties(instance, {
    iam: { value: iamPool.iam, enumerable: false },
    iamPool: { value: iamPool, enumerable: false },
  });
  return instance as IamKnex<TRecord, TResult>;
}
