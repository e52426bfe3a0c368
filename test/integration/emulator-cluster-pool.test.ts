import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { poolFor } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

/**
 * createIamPool against the emulated Aurora cluster, every endpoint reached through one
 * connectHost/connectPort (the TLS server name picks the endpoint): what a user's own tests of
 * cluster, reader and instance endpoints look like. The pool's own failover handling is not tested here.
 */
describe('createIamPool against the emulator cluster', () => {
  let fx: EmulatorFixture;
  let emulator: ClusterEmulator;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'cluster_pool', emulator: { cluster: {} } });
    emulator = fx.emulator as ClusterEmulator;
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('signs for each endpoint it is given and lands where that endpoint leads', async () => {
    const expectations = [
      { host: emulator.cluster.endpoint.host, id: 'mydb-instance-1', readOnly: 0 },
      { host: emulator.cluster.instanceEndpoints[2]!.host, id: 'mydb-instance-3', readOnly: 1 },
      { host: emulator.cluster.readerEndpoint.host, id: /^mydb-instance-[23]$/, readOnly: 1 },
    ];
    for (const { host, id, readOnly } of expectations) {
      const pool = poolFor(fx, { host });
      try {
        const [rows] = await pool.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
        expect(rows[0]?.id).toMatch(id);
        expect(rows[0]?.ro).toBe(readOnly);
      } finally {
        await pool.end();
      }
    }
    expect(emulator.stats().loginsRejected).toEqual({});
  });

  it('gets 1290 for a write through the reader endpoint, as on Aurora', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.readerEndpoint.host });
    try {
      const err = await pool.query("INSERT INTO items VALUES (40, 'no')").catch((e: unknown) => e);
      expect(err).toMatchObject({ errno: 1290, code: 'ER_OPTION_PREVENTS_STATEMENT' });
    } finally {
      await pool.end();
    }
  });

  it('puts every connection of a pool on the reader endpoint on one reader while its DNS record is fresh', async () => {
    const cluster = emulator.cluster;
    emulator.faults.shiftClock(5000); // a fresh record for this pool, whatever earlier tests did
    const before = new Map(cluster.topology().instances.map((i) => [i.id, i.queries]));
    const pool = poolFor(fx, { host: cluster.readerEndpoint.host, connectionLimit: 6 });
    try {
      const held = await Promise.all([1, 2, 3, 4, 5, 6].map(() => pool.getConnection()));
      const live = cluster.topology().instances.filter((i) => i.liveSessions > 0);
      expect(live.map((i) => [i.role, i.liveSessions])).toEqual([['reader', 6]]);
      for (const c of held) c.release();
      await Promise.all(Array.from({ length: 30 }, () => pool.query('SELECT 1')));
      const spread = cluster.topology().instances.map((i) => i.queries - (before.get(i.id) ?? 0));
      // Every statement went to that one reader; the others (and the writer) saw none.
      expect(spread.filter((n) => n > 0)).toHaveLength(1);
      expect(Math.max(...spread)).toBeGreaterThanOrEqual(30);
    } finally {
      await pool.end();
      emulator.faults.reset();
    }
  });
});
