/**
 * createIamSequelizeCluster against the emulator's Aurora cluster: Sequelize's own replication (a
 * write pool and a read pool), each new read connection on the reader instance with the fewest of
 * Sequelize's read connections, each new write connection on the writer.
 */
import { ConnectionError, DataTypes, QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamSequelizeCluster, type IamSequelizeClusterOptions } from '../../src/adapters/sequelize.js';
import { IamOptionsError, requestOutcome } from '../../src/index.js';
import { settle } from '../helpers/pool-fixture.js';
import { type ClusterFixture, clusterOptionsFor, ranSince, startCluster } from './replicas-shared.js';

type Where = { id: string; ro: number };
const WHERE = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

let c: ClusterFixture;
beforeAll(async () => {
  c = await startCluster('sequelize_replicas');
});
afterAll(async () => {
  await c?.teardown();
});

/** The cluster options without what only our pools apply (Sequelize opens its connections itself). */
function sequelizeClusterOptions(
  extra: Partial<IamSequelizeClusterOptions> = {},
): IamSequelizeClusterOptions {
  const { retry: _r, maxLoginsPerSecond: _m, topologyFailover: _t, ...options } = clusterOptionsFor(c);
  return { ...options, topologyFailover: { refreshIntervalMs: 60_000, pollIntervalMs: 50 }, ...extra };
}

function define(sequelize: ReturnType<typeof createIamSequelizeCluster>) {
  return sequelize.define(
    'Note',
    { body: { type: DataTypes.STRING(100), allowNull: false } },
    { tableName: 'sequelize_replica_notes', timestamps: false },
  );
}

/** `n` reads at once through Sequelize's read pool, each holding its connection a little. */
function slowReads(sequelize: ReturnType<typeof createIamSequelizeCluster>, n: number, seconds = 0.1) {
  const Note = define(sequelize);
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        Note.findAll({
          attributes: [
            'body',
            [sequelize.literal('CURRENT_USER()'), 'who'],
            [sequelize.literal(`SLEEP(${seconds})`), 'slept'],
          ],
          order: [['id', 'ASC']],
          raw: true,
        }) as unknown as Promise<Array<{ body: string; who: string }>>,
    ),
  );
}

describe('createIamSequelizeCluster (Sequelize replication on an Aurora cluster)', () => {
  it('writes on the writer, and spreads read connections evenly over the reader instances', async () => {
    const sequelize = createIamSequelizeCluster(sequelizeClusterOptions(), {
      logging: false,
      pool: { max: 6 },
    });
    const Note = define(sequelize);
    try {
      await sequelize.sync();
      await Note.bulkCreate([{ body: 'first' }, { body: 'second' }]);
      const [onWriter] = await sequelize.query<Where>(WHERE, { type: QueryTypes.SELECT, useMaster: true });
      expect(onWriter).toEqual({ id: c.writer(), ro: 0 });
      const [onReader] = await sequelize.query<Where>(WHERE, { type: QueryTypes.SELECT });
      expect(c.readers()).toContain(onReader?.id);
      expect(onReader?.ro).toBe(1);

      const before = c.queries();
      const reads = await slowReads(sequelize, 12);
      const ran = ranSince(before, c.queries());
      expect(Object.keys(ran).sort()).toEqual(c.readers().sort());
      for (const rows of reads) {
        expect(rows.map((r) => r.body)).toEqual(['first', 'second']);
        expect(rows[0]?.who).toBe(c.readerAccount);
      }
      // 6 read connections (Sequelize's pool.max), 2 on each reader instance.
      const byInstance = sequelize.iam.stats().connectionsByInstance;
      expect(Object.values(byInstance)).toEqual([2, 2, 2]);
      expect(sequelize.iam.stats().topology.instances).toHaveLength(4);

      // Transactions and writes use the write pool.
      const inTransaction = await sequelize.transaction(async (transaction) => {
        await Note.create({ body: 'third' }, { transaction });
        return sequelize.query<{ n: number; who: string }>(
          'SELECT COUNT(*) AS n, CURRENT_USER() AS who FROM sequelize_replica_notes',
          { type: QueryTypes.SELECT, transaction },
        );
      });
      expect(inTransaction).toEqual([{ n: 3, who: c.writerAccount }]);

      // A write sent to the read pool is refused by the reader (1290).
      const refused = await sequelize
        .query("INSERT INTO sequelize_replica_notes (body) VALUES ('no')", { type: QueryTypes.SELECT })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ parent: { errno: 1290 } });
      expect(requestOutcome(refused)).toBe('answered');

      // One token per endpoint: the cluster endpoint (writes) and each reader instance (reads).
      expect(sequelize.iam.stats()).toMatchObject({ tokensSigned: 4, loginsRefused: 0 });
    } finally {
      await sequelize.close();
    }
  });

  it('moves reads onto a reader added by Auto Scaling as Sequelize replaces its connections (pool.maxUses)', async () => {
    const sequelize = createIamSequelizeCluster(
      sequelizeClusterOptions({ topologyFailover: { refreshIntervalMs: 1000, pollIntervalMs: 50 } }),
      { logging: false, pool: { max: 6, maxUses: 4 } },
    );
    let added: string | undefined;
    try {
      await slowReads(sequelize, 6);
      const endpoint = await c.emulator.cluster.addReader();
      added = c.emulator.cluster.topology().instances.find((i) => i.host === endpoint.host)?.id;
      await settle(1500); // a topology refresh lists it
      const before = c.queries();
      for (let round = 0; round < 6; round++) await slowReads(sequelize, 6, 0.05);
      // Connections retired after 4 uses were replaced on the reader with the fewest: the new one.
      expect(ranSince(before, c.queries())[added as string]).toBeGreaterThan(0);
      expect(sequelize.iam.stats().connectionsByInstance[endpoint.host]).toBeGreaterThanOrEqual(1);

      // Removed while Sequelize holds connections there: the reads that follow all succeed, elsewhere.
      c.emulator.cluster.removeReader(added as string);
      await settle(300);
      const after = c.queries();
      const reads = await slowReads(sequelize, 12, 0.05);
      expect(reads).toHaveLength(12); // none failed
      for (const rows of reads) expect(rows[0]?.who).toBe(c.readerAccount);
      // (The writer ran the topology reads the lost connections set off: monitor statements, not reads.)
      expect(ranSince(after, c.queries())[added as string]).toBeUndefined();
      expect(sequelize.iam.stats().connectionsByInstance[endpoint.host] ?? 0).toBe(0);
    } finally {
      await sequelize.close();
    }
  });

  it("rides out a reader that fails before the topology says so with Sequelize's retry on ConnectionError", async () => {
    const sequelize = createIamSequelizeCluster(
      sequelizeClusterOptions({ topologyFailover: { refreshIntervalMs: 1000, pollIntervalMs: 50 } }),
      { logging: false, pool: { max: 6 }, retry: { max: 3, match: [ConnectionError] } },
    );
    let added: string | undefined;
    try {
      await slowReads(sequelize, 3); // a connection on each of the 3 readers
      const endpoint = await c.emulator.cluster.addReader();
      added = c.emulator.cluster.topology().instances.find((i) => i.host === endpoint.host)?.id;
      await settle(1500); // listed by a topology read, and no connection there yet
      c.emulator.cluster.failReader(added as string, { outage: 'refuse' });
      // The 4th connection goes to the new reader, the one with the fewest: refused. The read is not
      // sent, so Sequelize's retry runs it again, on a connection to another reader.
      const reads = await slowReads(sequelize, 4);
      expect(reads).toHaveLength(4);
      for (const rows of reads) expect(rows[0]?.who).toBe(c.readerAccount);
      expect(sequelize.iam.stats().connectionsByInstance[endpoint.host] ?? 0).toBe(0);
    } finally {
      if (added) c.emulator.cluster.removeReader(added);
      await sequelize.close();
    }
  });

  it('with no reader available, reads from the writer over read-only sessions, or fails them without the fallback', async () => {
    const failed = c.readers();
    const withFallback = createIamSequelizeCluster(sequelizeClusterOptions(), { logging: false });
    const without = createIamSequelizeCluster(
      sequelizeClusterOptions({ reader: { fallbackToWriter: false } }),
      {
        logging: false,
      },
    );
    try {
      for (const id of failed) c.emulator.cluster.failReader(id, { outage: 'refuse' });
      const [onWriter] = await withFallback.query<Where>(WHERE, { type: QueryTypes.SELECT });
      expect(onWriter).toEqual({ id: c.writer(), ro: 0 });
      const refused = await withFallback
        .query("INSERT INTO sequelize_replica_notes (body) VALUES ('no')", { type: QueryTypes.SELECT })
        .catch((e: unknown) => e);
      expect(refused).toMatchObject({ parent: { errno: 1792 } }); // the read-only session refused it

      const error = await without.query(WHERE, { type: QueryTypes.SELECT }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error).toMatchObject({ parent: { code: 'RDS_IAM_CONNECT_FAILED' } });
      expect(requestOutcome(error)).toBe('not-sent');
    } finally {
      for (const id of failed) c.emulator.cluster.recoverReader(id);
      await Promise.all([withFallback.close(), without.close()]);
    }
  });

  it('refuses options it cannot apply', () => {
    expect(() =>
      createIamSequelizeCluster({
        ...sequelizeClusterOptions(),
        host: c.fx.emulator.host.replace('.cluster-', '.'),
      }),
    ).toThrow(IamOptionsError);
    expect(() =>
      createIamSequelizeCluster({ ...sequelizeClusterOptions(), retry: { retries: 1 } } as never),
    ).toThrow(/retry/);
    expect(() =>
      createIamSequelizeCluster(sequelizeClusterOptions({ reader: { connectionLimit: 3 } as never })),
    ).toThrow(/reader\.connectionLimit/);
  });
});
