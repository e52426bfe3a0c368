/**
 * Drizzle ORM on an IAM pool: `drizzle-orm/mysql2` accepts a mysql2 pool as its client, so every
 * query goes through `createIamPool` (cached token, verified TLS, login retries).
 */
import { drizzle, type MySql2Database, type MySql2DrizzleConfig } from 'drizzle-orm/mysql2';
import type { IamPoolOptions } from '../options.js';
import { createIamPool, type IamPool } from '../pool/iam-pool.js';

/** A Drizzle database whose `$client` is the IAM pool: `db.$client.iam.stats()`, `db.$client.end()`. */
export type IamDrizzleDatabase<TSchema extends Record<string, unknown> = Record<string, never>> =
  MySql2Database<TSchema> & { $client: IamPool };

/**
 * Creates an IAM pool and a Drizzle database on it. `config` is Drizzle's own (`schema`, `mode`,
 * `logger`, `casing`, `cache`). End the pool with `await db.$client.end()`.
 */
export function createIamDrizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  options: IamPoolOptions,
  config?: MySql2DrizzleConfig<TSchema>,
): IamDrizzleDatabase<TSchema> {
  const pool = createIamPool(options);
  return drizzle<TSchema, IamPool>({ ...(config as MySql2DrizzleConfig<TSchema>), client: pool });
}
