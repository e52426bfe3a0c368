/**
 * createIamKnexCluster against the emulator's Aurora cluster: Knex has no replica support, so its
 * users keep a writer and a reader instance; here they are Knex on the two pools of one
 * createIamCluster, and the reader's statements run on reader instances only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamKnexCluster } from '../../src/adapters/knex.js';
import { requestOutcome } from '../../src/index.js';
import { type ClusterFixture, clusterOptionsFor, ranSince, spread, startCluster } from './replicas-shared.js';

type Where = { id: string; ro: number };

let c: ClusterFixture;
beforeAll(async () => {
  c = await startCluster('knex_replicas');
});
afterAll(async () => {
  await c?.teardown();
});

describe('createIamKnexCluster (a Knex writer and a Knex reader on createIamCluster)', () => {
  it('writes and builds the schema through the writer, reads through the reader on reader instances only', async () => {
    const db = createIamKnexCluster(clusterOptionsFor(c, { connectionLimit: 6 }));
    try {
      await db.writer.schema.createTable('knex_replica_notes', (t) => {
        t.increments('id');
        t.string('body', 100).notNullable();
      });
      await db.writer('knex_replica_notes').insert([{ body: 'first' }, { body: 'second' }]);
      const [[onWriter]] = (await db.writer.raw(
        'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
      )) as [Where[]];
      expect(onWriter).toEqual({ id: c.writer(), ro: 0 });
      const [[onReader]] = (await db.reader.raw(
        'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
      )) as [Where[]];
      expect(c.readers()).toContain(onReader?.id);
      expect(onReader?.ro).toBe(1);

      // The reader knows its database (schema introspection works there too).
      expect(await db.reader.schema.hasTable('knex_replica_notes')).toBe(true);
      expect(Object.keys(await db.reader('knex_replica_notes').columnInfo()).sort()).toEqual(['body', 'id']);

      const before = c.queries();
      const reads = await Promise.all(
        Array.from({ length: 12 }, () =>
          db
            .reader('knex_replica_notes')
            .select('body', db.reader.raw('CURRENT_USER() AS who'), db.reader.raw('SLEEP(0.1) AS slept'))
            .orderBy('id'),
        ),
      );
      const ran = ranSince(before, c.queries());
      expect(Object.keys(ran).sort()).toEqual(c.readers().sort());
      for (const rows of reads) {
        expect(rows.map((r: { body: string }) => r.body)).toEqual(['first', 'second']);
        expect(rows[0]?.who).toBe(c.readerAccount);
      }
      expect(spread(db.cluster.stats().reader.connectionsByInstance ?? {})).toBeLessThanOrEqual(1);

      // Transactions belong on the writer.
      const who = await db.writer.transaction(async (trx) => {
        await trx('knex_replica_notes').insert({ body: 'third' });
        const [row] = await trx('knex_replica_notes')
          .count({ n: '*' })
          .select(trx.raw('CURRENT_USER() AS who'));
        return row;
      });
      expect(who).toEqual({ n: 3, who: c.writerAccount });

      // A write sent to the reader is refused there (1290): none is accepted on a reader.
      const refused = await db
        .reader('knex_replica_notes')
        .insert({ body: 'no' })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ errno: 1290 });
      expect(requestOutcome(refused)).toBe('answered');
    } finally {
      await db.destroy();
    }
    await expect(db.cluster.reader.query('SELECT 1')).rejects.toThrow();
    await expect(db.cluster.writer.query('SELECT 1')).rejects.toThrow();
  });
});
