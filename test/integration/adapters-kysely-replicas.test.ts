/**
 * Kysely on an Aurora cluster, the way Kysely users split reads from writes (Kysely has no replica
 * support): two Kysely instances, each a plain MysqlDialect on one pool of one createIamCluster. The
 * reader instance's statements run on reader instances only; the writer's on the writer.
 */
import { type Generated, Kysely, MysqlDialect, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamCluster, requestOutcome } from '../../src/index.js';
import { type ClusterFixture, clusterOptionsFor, ranSince, spread, startCluster } from './replicas-shared.js';

interface Database {
  kysely_replica_notes: { id: Generated<number>; body: string };
}
type Where = { id: string; ro: number };

let c: ClusterFixture;
beforeAll(async () => {
  c = await startCluster('kysely_replicas');
});
afterAll(async () => {
  await c?.teardown();
});

describe('Kysely on createIamCluster (a writer and a reader Kysely instance)', () => {
  it('writes through the writer instance, reads through the reader instance on reader instances only', async () => {
    const cluster = createIamCluster(clusterOptionsFor(c, { connectionLimit: 6 }));
    // MysqlDialect wants mysql2's callback pool: `.pool` of each IamPool.
    const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool: cluster.writer.pool }) });
    const readDb = new Kysely<Database>({ dialect: new MysqlDialect({ pool: cluster.reader.pool }) });
    try {
      await db.schema
        .createTable('kysely_replica_notes')
        .addColumn('id', 'integer', (col) => col.autoIncrement().primaryKey())
        .addColumn('body', 'varchar(100)', (col) => col.notNull())
        .execute();
      await db
        .insertInto('kysely_replica_notes')
        .values([{ body: 'first' }, { body: 'second' }])
        .execute();
      const where = sql<Where>`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`;
      expect((await where.execute(db)).rows[0]).toEqual({ id: c.writer(), ro: 0 });
      const onReader = (await where.execute(readDb)).rows[0];
      expect(c.readers()).toContain(onReader?.id);
      expect(onReader?.ro).toBe(1);

      const before = c.queries();
      const reads = await Promise.all(
        Array.from({ length: 12 }, () =>
          readDb
            .selectFrom('kysely_replica_notes')
            .select(['body', sql<string>`CURRENT_USER()`.as('who'), sql`SLEEP(0.1)`.as('slept')])
            .orderBy('id')
            .execute(),
        ),
      );
      const ran = ranSince(before, c.queries());
      expect(Object.keys(ran).sort()).toEqual(c.readers().sort());
      for (const rows of reads) {
        expect(rows.map((r) => r.body)).toEqual(['first', 'second']);
        expect(rows[0]?.who).toBe(c.readerAccount);
      }
      expect(spread(cluster.stats().reader.connectionsByInstance ?? {})).toBeLessThanOrEqual(1);

      const inTransaction = await db.transaction().execute(async (trx) => {
        await trx.insertInto('kysely_replica_notes').values({ body: 'third' }).execute();
        return trx
          .selectFrom('kysely_replica_notes')
          .select([(eb) => eb.fn.countAll<number>().as('n'), sql<string>`CURRENT_USER()`.as('who')])
          .executeTakeFirst();
      });
      expect(inTransaction).toEqual({ n: 3, who: c.writerAccount });

      const refused = await readDb
        .insertInto('kysely_replica_notes')
        .values({ body: 'no' })
        .execute()
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ errno: 1290 });
      expect(requestOutcome(refused)).toBe('answered');
    } finally {
      // Each Kysely instance ends its pool; cluster.end() then stops the shared topology monitor.
      await Promise.all([db.destroy(), readDb.destroy()]);
      await cluster.end();
    }
  });
});
