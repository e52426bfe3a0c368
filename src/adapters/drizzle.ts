/**
 * Drizzle ORM on an IAM pool: `drizzle-orm/mysql2` accepts a mysql2 pool as its client, so every
 * query goes through `createIamPool` (cached token, verified TLS, login retries). For an Aurora
 * cluster, `createIamDrizzleCluster` puts Drizzle's own read replica support (`withReplicas`) on the
 * writer and reader pools of `createIamCluster`.
 */

import { type MySQLWithReplicas, withReplicas } from 'drizzle-orm/mysql-core';
import { drizzle, type MySql2Database, type MySql2DrizzleConfig } from 'drizzle-orm/mysql2';
import type { IamPoolOptions } from '../options.js';
import { createIamCluster, type IamCluster, type IamClusterOptions } from '../pool/cluster.js';
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
  return onPool(createIamPool(options), config);
}

/**
 * Drizzle's `withReplicas` on an Aurora cluster: `$primary` queries through the cluster's writer pool,
 * the one replica (`$replicas[0]`) through its reader pool, which spreads connections over every reader
 * instance and follows Auto Scaling. `$cluster` is the `IamCluster`: `$cluster.stats()`, `$cluster.end()`.
 */
export type IamDrizzleCluster<TSchema extends Record<string, unknown> = Record<string, never>> =
  MySQLWithReplicas<IamDrizzleDatabase<TSchema>> & {
    /** The one replica, on the reader pool: `db.$replicas[0].execute(sql)` runs a raw read there. */
    readonly $replicas: [IamDrizzleDatabase<TSchema>];
    readonly $cluster: IamCluster;
  };

/**
 * Creates the writer and reader pools of an Aurora cluster (`createIamCluster(options)`) and a Drizzle
 * database with replicas on them: `select`, `selectDistinct`, `$count`, `with` and the relational
 * `query` API read through the reader pool; `insert`, `update`, `delete`, `execute` and `transaction`
 * go to the writer. `config` is Drizzle's own, used for both. End both pools with
 * `await db.$cluster.end()`.
 */
export function createIamDrizzleCluster<TSchema extends Record<string, unknown> = Record<string, never>>(
  options: IamClusterOptions,
  config?: MySql2DrizzleConfig<TSchema>,
): IamDrizzleCluster<TSchema> {
  const cluster = createIamCluster(options);
  // One replica: the reader pool does the spreading over the reader instances that Drizzle's
  // random pick among replicas would otherwise do, and it follows instances added and removed.
  const db = withReplicas(onPool(cluster.writer, config), [onPool(cluster.reader, config)]);
  Object.defineProperty(db, '$cluster', { value: cluster, enumerable: false });
  return db as IamDrizzleCluster<TSchema>;
}

function onPool<TSchema extends Record<string, unknown>>(
  pool: IamPool,
  config: MySql2DrizzleConfig<TSchema> | undefined,
): IamDrizzleDatabase<TSchema> {
  return drizzle<TSchema, IamPool>({ ...(config as MySql2DrizzleConfig<TSchema>), client: pool });
}
