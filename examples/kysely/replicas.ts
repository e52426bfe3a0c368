/**
 * `npm run example:kysely:replicas`: Kysely on an Aurora cluster, against the local RDS IAM emulator's
 * cluster (a writer and 3 readers). Kysely has no replica support: keep two Kysely instances, one on
 * the writer pool and one on the reader pool of one createIamCluster, and pick one per query.
 */
import { type Generated, Kysely, MysqlDialect, sql } from 'kysely';
import { createIamCluster } from '../../src/index.js';
import { startLocalAurora } from '../shared/local-rds.js';

interface Database {
  notes: { id: Generated<number>; body: string };
}
const where = sql<{ id: string; ro: number }>`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`;

const aurora = await startLocalAurora('kysely_replicas');
// On Aurora: createIamCluster({ host: '<name>.cluster-<id>.<region>.rds.amazonaws.com', user: 'app_iam', database: 'app' })
const cluster = createIamCluster({ ...aurora.iamOptions, connectionLimit: 6 });
// MysqlDialect takes mysql2's callback pool: `.pool` of each IamPool.
const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool: cluster.writer.pool }) });
const readDb = new Kysely<Database>({ dialect: new MysqlDialect({ pool: cluster.reader.pool }) });

try {
  await db.schema
    .createTable('notes')
    .addColumn('id', 'integer', (col) => col.autoIncrement().primaryKey())
    .addColumn('body', 'varchar(100)', (col) => col.notNull())
    .execute();
  await db
    .insertInto('notes')
    .values([{ body: 'first' }, { body: 'second' }])
    .execute();
  const onWriter = (await where.execute(db)).rows[0];
  console.log(`kysely: wrote on the writer ${onWriter?.id} (read-only: ${onWriter?.ro})`);

  const onReader = (await where.execute(readDb)).rows[0];
  const before = aurora.queriesByInstance();
  const reads = await Promise.all(
    Array.from({ length: 6 }, () =>
      readDb
        .selectFrom('notes')
        .select(['body', sql`SLEEP(0.2)`.as('pause')])
        .orderBy('id')
        .execute(),
    ),
  );
  console.log(
    `kysely: read ${reads[0]?.map((r) => r.body).join(', ')} on the readers ` +
      `${aurora.instancesThatRan(before).join(', ')} (read-only: ${onReader?.ro})`,
  );
  const spread = cluster.stats().reader.connectionsByInstance ?? {};
  console.log(`kysely: reader connections per instance: ${Object.values(spread).join(', ')}`);
} finally {
  // Each Kysely instance ends its pool; cluster.end() also stops the topology monitor they share.
  await Promise.all([db.destroy(), readDb.destroy()]);
  await cluster.end();
  await aurora.stop();
}
