/**
 * createIamClusterDataSource against the emulator's Aurora cluster: TypeORM's own replication, with
 * the cluster's writer pool as master and its reader pool as the slave. SELECT query builders read on
 * reader instances; saves, raw queries and transactions run on the writer.
 */
import { EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamClusterDataSource } from '../../src/adapters/typeorm.js';
import { IamOptionsError, requestOutcome } from '../../src/index.js';
import { type ClusterFixture, clusterOptionsFor, ranSince, spread, startCluster } from './replicas-shared.js';

interface Note {
  id: number;
  body: string;
  views: string; // BIGINT: TypeORM's bigNumberStrings must reach both pools
}
const NoteSchema = new EntitySchema<Note>({
  name: 'Note',
  tableName: 'typeorm_replica_notes',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    body: { type: String, length: 100 },
    views: { type: 'bigint', default: 0 },
  },
});
// ro comes back as a string: TypeORM turns on mysql2's bigNumberStrings.
type Where = { id: string; ro: string };

let c: ClusterFixture;
beforeAll(async () => {
  c = await startCluster('typeorm_replicas');
});
afterAll(async () => {
  await c?.teardown();
});

describe('createIamClusterDataSource (TypeORM replication on createIamCluster)', () => {
  it('saves and synchronizes on the writer, finds on the reader instances', async () => {
    const dataSource = createIamClusterDataSource(clusterOptionsFor(c, { connectionLimit: 6 }), {
      type: 'mariadb',
      entities: [NoteSchema],
      synchronize: true, // schema sync runs on the master: the writer
    });
    expect(dataSource.iamCluster).toBeUndefined();
    await dataSource.initialize();
    try {
      const notes = dataSource.getRepository(NoteSchema);
      await notes.save([
        { body: 'first', views: '9007199254740993' },
        { body: 'second', views: '0' },
      ]);
      // dataSource.query() runs on the master; a 'slave' query runner on a reader.
      const [onWriter] = (await dataSource.query(
        'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
      )) as Where[];
      expect(onWriter).toEqual({ id: c.writer(), ro: '0' });
      const slave = dataSource.createQueryRunner('slave');
      const [onReader] = (await slave
        .query('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro')
        .finally(() => slave.release())) as Where[];
      expect(c.readers()).toContain(onReader?.id);
      expect(onReader?.ro).toBe('1');

      // Repositories' find* and SELECT query builders read on readers (TypeORM's defaultMode 'slave').
      const before = c.queries();
      const [found, ...raw] = await Promise.all([
        notes.find({ order: { id: 'ASC' } }),
        ...Array.from({ length: 11 }, () =>
          notes
            .createQueryBuilder('note')
            .select('note.body', 'body')
            .addSelect('CURRENT_USER()', 'who')
            .addSelect('SLEEP(0.1)', 'slept')
            .orderBy('note.id')
            .getRawMany<{ body: string; who: string }>(),
        ),
      ]);
      const ran = ranSince(before, c.queries());
      expect(Object.keys(ran).sort()).toEqual(c.readers().sort());
      expect(found).toEqual([
        { id: 1, body: 'first', views: '9007199254740993' },
        { id: 2, body: 'second', views: '0' },
      ]);
      for (const rows of raw) {
        expect(rows.map((r) => r.body)).toEqual(['first', 'second']);
        expect(rows[0]?.who).toBe(c.readerAccount);
      }
      const stats = dataSource.iamCluster?.stats();
      expect(spread(stats?.reader.connectionsByInstance ?? {})).toBeLessThanOrEqual(1);

      // Transactions take a master connection.
      const inTransaction = await dataSource.transaction(async (manager) => {
        await manager.getRepository(NoteSchema).save({ body: 'third', views: '0' });
        return manager.query('SELECT COUNT(*) AS n, CURRENT_USER() AS who FROM typeorm_replica_notes');
      });
      expect(inTransaction).toEqual([{ n: '3', who: c.writerAccount }]);

      // A write sent to a slave query runner is refused by the reader (1290).
      const reader = dataSource.createQueryRunner('slave');
      const refused = await reader
        .query("INSERT INTO typeorm_replica_notes (body) VALUES ('no')")
        .catch((e: unknown) => e)
        .finally(() => reader.release());
      expect(refused).toMatchObject({ driverError: { errno: 1290 } });
      expect(requestOutcome(refused)).toBe('answered');
    } finally {
      await dataSource.destroy();
    }
    // destroy() ended both pools of the cluster.
    await expect(dataSource.iamCluster?.writer.query('SELECT 1')).rejects.toThrow();
    await expect(dataSource.iamCluster?.reader.query('SELECT 1')).rejects.toThrow();
  });

  it('refuses a password slipped in through `extra`, as createIamDataSource does', async () => {
    const dataSource = createIamClusterDataSource(clusterOptionsFor(c), {
      type: 'mysql',
      extra: { password: 'static' },
    });
    await expect(dataSource.initialize()).rejects.toBeInstanceOf(IamOptionsError);
  });

  it('sends SELECT query builders to the writer with replication.defaultMode "master"', async () => {
    const dataSource = createIamClusterDataSource(clusterOptionsFor(c), {
      type: 'mariadb',
      entities: [NoteSchema],
      replication: { defaultMode: 'master' },
    });
    await dataSource.initialize();
    try {
      const rows = await dataSource
        .getRepository(NoteSchema)
        .createQueryBuilder('note')
        .select('CURRENT_USER()', 'who')
        .limit(1)
        .getRawMany<{ who: string }>();
      expect(rows).toEqual([{ who: c.writerAccount }]);
    } finally {
      await dataSource.destroy();
    }
  });
});
