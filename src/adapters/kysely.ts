/**
 * Kysely on an IAM pool: `MysqlDialect` wants mysql2's callback-style pool, which is `pool.pool`
 * of `createIamPool` (same connections, same IAM handle). `db.destroy()` ends the pool.
 */
import { MysqlDialect, type MysqlDialectConfig } from 'kysely';
import type { IamPoolOptions } from '../options.js';
import { createIamPool, type IamPool, type IamPoolHandle } from '../pool/iam-pool.js';

/** Kysely's dialect hooks; the pool is the IAM pool. */
export type IamMysqlDialectConfig = Omit<MysqlDialectConfig, 'pool'>;

/** A Kysely `MysqlDialect` on a pool from `createIamPool`. */
export class IamMysqlDialect extends MysqlDialect {
  /** The IAM pool the dialect queries through (`Kysely#destroy()` ends it). */
  readonly pool: IamPool;

  constructor(options: IamPoolOptions, config: IamMysqlDialectConfig = {}) {
    const pool = createIamPool(options);
    super({ ...config, pool: pool.pool });
    this.pool = pool;
  }

  /** Token and login stats, events and `invalidateToken()`. */
  get iam(): IamPoolHandle {
    return this.pool.iam;
  }
}
