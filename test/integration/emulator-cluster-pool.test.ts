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
});
