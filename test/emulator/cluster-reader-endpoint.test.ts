/**
 * The reader endpoint balances by DNS: its record names one reader for `readerRecordTtlMs` (5 s by
 * default, Aurora's TTL), and every new connection in that time lands there, whatever happens to
 * that reader; then the next reader in instance order. The clock is moved (faults.shiftClock), so
 * nothing here waits for a TTL.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture, rejectionOf } from '../helpers/emulator-harness.js';

type Row = RowDataPacket & Record<string, unknown>;

const serverId = async (conn: Connection) => {
  const [rows] = await conn.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
  return String(rows[0]?.id);
};

describe('the reader endpoint with the default record TTL', () => {
  let fx: EmulatorFixture;
  let emulator: ClusterEmulator;
  const open: Connection[] = [];
  const viaReaderEndpoint = async () => {
    const conn = await fx.connect({ endpoint: emulator.cluster.readerEndpoint.host });
    open.push(conn);
    return conn;
  };
  /** Moves the emulator clock past the record's TTL. */
  const expireRecord = () => emulator.faults.shiftClock(5000);

  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_reader_ep', emulator: { cluster: { instances: 4 } } });
    emulator = fx.emulator as ClusterEmulator;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => c.destroy())));
    expireRecord();
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('leads every new connection to one reader while its record is fresh, then to the next in turn', async () => {
    const ids: string[][] = [];
    for (let round = 0; round < 4; round++) {
      const batch = await Promise.all([1, 2, 3].map(viaReaderEndpoint));
      ids.push(await Promise.all(batch.map(serverId)));
      expect(emulator.cluster.topology().readerEndpointTarget).toBe(ids[round]![0]);
      expireRecord();
    }
    for (const batch of ids) expect(new Set(batch).size).toBe(1);
    // Round robin over the three readers, in instance order, wrapping around.
    const order = ids.map((batch) => batch[0]);
    expect(new Set(order.slice(0, 3)).size).toBe(3);
    expect(order[3]).toBe(order[0]);
    const byInstance = Object.fromEntries(
      emulator.cluster.topology().instances.map((i) => [i.id, i.liveSessions]),
    );
    expect(byInstance['mydb-instance-1']).toBe(0);
    expect(emulator.cluster.topology().readerEndpointTarget).toBeNull();
  });

  it('keeps naming a reader that failed until its record expires (a cached DNS answer), then skips it', async () => {
    const first = await serverId(await viaReaderEndpoint());
    emulator.cluster.failReader(first);
    try {
      await rejectionOf(() => fx.connect({ endpoint: emulator.cluster.readerEndpoint.host }));
      expect(emulator.cluster.topology().instances.find((i) => i.id === first)!.refusedConnections).toBe(1);
      expireRecord();
      const next = await serverId(await viaReaderEndpoint());
      expect(next).not.toBe(first);
      expireRecord();
      const after = await serverId(await viaReaderEndpoint());
      expect([first, next]).not.toContain(after);
    } finally {
      emulator.cluster.recoverReader(first);
    }
  });

  it("with outage 'refuse', refuses TCP on the reader endpoint's port while its record names a failed reader", async () => {
    const first = await serverId(await viaReaderEndpoint());
    emulator.cluster.failReader(first, { outage: 'refuse' });
    try {
      await expect(
        fx.connect({
          endpoint: emulator.cluster.readerEndpoint.host,
          listenPort: emulator.cluster.readerEndpoint.port,
        }),
      ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expireRecord();
      const next = await fx.connect({
        endpoint: emulator.cluster.readerEndpoint.host,
        listenPort: emulator.cluster.readerEndpoint.port,
      });
      open.push(next);
      expect(await serverId(next)).not.toBe(first);
    } finally {
      emulator.cluster.recoverReader(first);
    }
  });

  it('leads to the writer while there is no reader up, as Aurora does for a cluster without replicas', async () => {
    const readers = emulator.cluster.topology().instances.filter((i) => i.role === 'reader');
    for (const r of readers) emulator.cluster.failReader(r.id);
    try {
      expireRecord();
      const conn = await viaReaderEndpoint();
      expect(await serverId(conn)).toBe(emulator.cluster.topology().writer);
    } finally {
      for (const r of readers) emulator.cluster.recoverReader(r.id);
    }
  });

  it('leads a client holding the record of a reader just promoted to the new writer', async () => {
    const named = await serverId(await viaReaderEndpoint());
    const failover = emulator.cluster.failover({ target: named, promotionMs: 0, dnsLagMs: 0 });
    await failover.completed;
    // The record is still fresh (no clock moved): the connection lands on the instance it names.
    const conn = await fx.connect({ endpoint: emulator.cluster.readerEndpoint.host });
    open.push(conn);
    const [rows] = await conn.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
    expect(rows[0]).toEqual({ id: named, ro: 0 });
  });
});

describe('the reader endpoint with readerRecordTtlMs: 0', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'emu_reader_ttl0',
      emulator: { cluster: { readerRecordTtlMs: 0 } },
    });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('gives every new connection the next reader', async () => {
    const cluster = (fx.emulator as ClusterEmulator).cluster;
    const conns = await Promise.all(
      [1, 2, 3, 4].map(() => fx.connect({ endpoint: cluster.readerEndpoint.host })),
    );
    try {
      const ids = await Promise.all(conns.map(serverId));
      expect(ids.filter((id) => id === 'mydb-instance-2')).toHaveLength(2);
      expect(ids.filter((id) => id === 'mydb-instance-3')).toHaveLength(2);
      expect(cluster.topology().readerEndpointTarget).toBeNull();
    } finally {
      await Promise.all(conns.map((c) => c.end()));
    }
  });
});
