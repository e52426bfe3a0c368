/**
 * createIamDrizzleCluster against the emulator's Aurora cluster: Drizzle's withReplicas sends its
 * reads through the cluster's reader pool (reader instances only, spread evenly) and its writes,
 * raw statements and transactions through the writer pool.
 */
import { asc, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamDrizzleCluster } from '../../src/adapters/drizzle.js';
import { requestOutcome } from '../../src/index.js';
import { type ClusterFixture, clusterOptionsFor, ranSince, spread, startCluster } from './replicas-shared.js';

const notes = mysqlTable('drizzle_replica_notes', {
  id: int('id').primaryKey().autoincrement(),
  body: varchar('body', { length: 100 }).notNull(),
});
const schema = { notes };

type Where = { id: string; ro: number };

let c: ClusterFixture;
beforeAll(async () => {
  c = await startCluster('drizzle_replicas');
});
afterAll(async () => {
  await c?.teardown();
});

describe('createIamDrizzleCluster (Drizzle withReplicas on createIamCluster)', () => {
  it('writes on the writer, reads on the reader instances, never the other way round', async () => {
    const db = createIamDrizzleCluster(clusterOptionsFor(c, { connectionLimit: 6 }), {
      schema,
      mode: 'default',
    });
    try {
      // Raw statements (execute) and writes go to the writer.
      await db.execute(
        sql`CREATE TABLE drizzle_replica_notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL)`,
      );
      await db.insert(notes).values([{ body: 'first' }, { body: 'second' }]);
      const [onWriter] = await db.execute(sql`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`);
      expect((onWriter as unknown as Where[])[0]).toEqual({ id: c.writer(), ro: 0 });
      const [onReader] = await db.$replicas[0].execute(
        sql`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`,
      );
      expect(c.readers()).toContain((onReader as unknown as Where[])[0]?.id);
      expect((onReader as unknown as Where[])[0]?.ro).toBe(1);

      // The query builder and the relational API read on readers: 12 reads at once, each holding its
      // connection (SLEEP per row), run on the 3 readers, 2 connections each, and none on the writer.
      const before = c.queries();
      const reads = await Promise.all([
        ...Array.from({ length: 9 }, () =>
          db
            .select({ body: notes.body, who: sql<string>`CURRENT_USER()`, slept: sql`SLEEP(0.1)` })
            .from(notes)
            .orderBy(asc(notes.id)),
        ),
        ...Array.from({ length: 3 }, () =>
          db.query.notes.findMany({
            orderBy: [asc(notes.id)],
            extras: { who: sql<string>`CURRENT_USER()`.as('who'), slept: sql`SLEEP(0.1)`.as('slept') },
          }),
        ),
      ]);
      const ran = ranSince(before, c.queries());
      expect(Object.keys(ran).sort()).toEqual(c.readers().sort());
      expect(Object.values(ran).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(12);
      for (const rows of reads) {
        expect(rows.map((r) => r.body)).toEqual(['first', 'second']);
        // Reader sessions run as the emulator's read-only account.
        expect(rows[0]?.who).toBe(c.readerAccount);
      }
      const byInstance = db.$cluster.stats().reader.connectionsByInstance ?? {};
      expect(Object.keys(byInstance)).toHaveLength(3);
      expect(spread(byInstance)).toBeLessThanOrEqual(1);
      expect(await db.$count(notes)).toBe(2);

      // A transaction runs on the writer, reads included.
      const inTransaction = await db.transaction(async (tx) => {
        await tx.insert(notes).values({ body: 'third' });
        return tx.select({ n: sql<number>`COUNT(*)`, who: sql<string>`CURRENT_USER()` }).from(notes);
      });
      expect(inTransaction).toEqual([{ n: 3, who: c.writerAccount }]);

      // A write sent through the replica is refused by the reader (1290): none is accepted there.
      const refused = await db.$replicas[0]
        .insert(notes)
        .values({ body: 'no' })
        .catch((e: unknown) => e);
      expect(requestOutcome(refused)).toBe('answered');
      expect((refused as { cause?: { errno?: number } }).cause?.errno).toBe(1290);
    } finally {
      await db.$cluster.end();
    }
    await expect(db.$primary.$client.query('SELECT 1')).rejects.toThrow();
  });
});
