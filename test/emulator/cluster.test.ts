import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator, EmulatorCluster } from '../../src/emulator/index.js';
import { EmulatorError, startEmulator } from '../../src/emulator/index.js';
import { type AuroraDialectSql, auroraDialectSql } from '../helpers/aws-wrapper-sql.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  MARIADB,
  rejectionOf,
} from '../helpers/emulator-harness.js';

type Row = RowDataPacket & Record<string, unknown>;

async function one(conn: Connection, sql: string): Promise<Row> {
  const [rows] = await conn.query<Row[]>(sql);
  return rows[0]!;
}

const serverId = async (conn: Connection) => String((await one(conn, 'SELECT @@aurora_server_id AS id')).id);

function clusterOf(fx: EmulatorFixture): EmulatorCluster {
  const cluster = (fx.emulator as ClusterEmulator).cluster;
  if (!cluster) throw new Error('not a cluster emulator');
  return cluster;
}

/** Resolves with the error a connection reports when the server closes it. */
const lost = (conn: Connection) =>
  new Promise<Error & { code?: string }>((resolve) => conn.once('error', resolve));

describe('emulator cluster mode: endpoints', () => {
  let fx: EmulatorFixture;
  let cluster: EmulatorCluster;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_cluster_ep', emulator: { cluster: {} } });
    cluster = clusterOf(fx);
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('has a cluster, a reader and three instance endpoints named the Aurora way, each on a port of its own', () => {
    expect(cluster.endpoint).toMatchObject({
      kind: 'cluster',
      host: 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com',
    });
    expect(cluster.readerEndpoint).toMatchObject({
      kind: 'reader',
      host: 'mydb.cluster-ro-abc123.us-east-1.rds.amazonaws.com',
    });
    expect(cluster.instanceEndpoints.map((e) => [e.instanceId, e.host])).toEqual([
      ['mydb-instance-1', 'mydb-instance-1.abc123.us-east-1.rds.amazonaws.com'],
      ['mydb-instance-2', 'mydb-instance-2.abc123.us-east-1.rds.amazonaws.com'],
      ['mydb-instance-3', 'mydb-instance-3.abc123.us-east-1.rds.amazonaws.com'],
    ]);
    const ports = [cluster.endpoint, cluster.readerEndpoint, ...cluster.instanceEndpoints].map((e) => e.port);
    expect(new Set(ports).size).toBe(5);
    expect(fx.emulator.host).toBe(cluster.endpoint.host);
    expect(fx.emulator.port).toBe(cluster.endpoint.port);
    expect(cluster.endpointFor('MYDB-INSTANCE-2.abc123.us-east-1.rds.amazonaws.com')).toBe(
      cluster.instanceEndpoints[1],
    );
  });

  it('reaches each instance on its own port and by TLS server name through any port, with a verified certificate', async () => {
    for (const endpoint of cluster.instanceEndpoints) {
      const byPort = await fx.connect({ endpoint: endpoint.host, listenPort: endpoint.port });
      const bySni = await fx.connect({ endpoint: endpoint.host, listenPort: cluster.readerEndpoint.port });
      try {
        expect(await serverId(byPort)).toBe(endpoint.instanceId);
        expect(await serverId(bySni)).toBe(endpoint.instanceId);
      } finally {
        await Promise.all([byPort.end(), bySni.end()]);
      }
    }
  });

  it('binds a token to its endpoint: a token for the cluster endpoint is refused by an instance endpoint', async () => {
    const before = fx.emulator.stats().loginsRejected['wrong-host'] ?? 0;
    const instance = cluster.instanceEndpoints[0]!;
    const err = await rejectionOf(() =>
      fx.connect({ endpoint: instance.host, tokenHost: cluster.endpoint.host, listenPort: instance.port }),
    );
    expect(err.errno).toBe(1045);
    expect((fx.emulator.stats().loginsRejected['wrong-host'] ?? 0) - before).toBe(1);
  });

  it('leads the cluster endpoint to the writer and the reader endpoint to one reader per DNS record', async () => {
    const writer = await fx.connect();
    const first = await Promise.all(
      [1, 2, 3, 4].map(() => fx.connect({ endpoint: cluster.readerEndpoint.host })),
    );
    // The record's TTL (5 s) has passed: the next connections get the next reader.
    fx.emulator.faults.shiftClock(5000);
    const second = await Promise.all([1, 2].map(() => fx.connect({ endpoint: cluster.readerEndpoint.host })));
    try {
      expect(await serverId(writer)).toBe('mydb-instance-1');
      const firstIds = await Promise.all(first.map(serverId));
      const secondIds = await Promise.all(second.map(serverId));
      expect(new Set(firstIds).size).toBe(1);
      expect(new Set(secondIds).size).toBe(1);
      expect(new Set([...firstIds, ...secondIds])).toEqual(new Set(['mydb-instance-2', 'mydb-instance-3']));
      const sessions = fx.emulator.sessions();
      expect(
        sessions.filter((s) => s.role === 'reader' && s.endpoint === cluster.readerEndpoint.host),
      ).toHaveLength(6);
      expect(sessions.filter((s) => s.role === 'writer' && s.instanceId === 'mydb-instance-1')).toHaveLength(
        1,
      );
    } finally {
      fx.emulator.faults.reset();
      await Promise.all([writer, ...first, ...second].map((c) => c.end()));
    }
  });
});

describe('emulator cluster mode: Aurora queries and read-only readers', () => {
  let fx: EmulatorFixture;
  let cluster: EmulatorCluster;
  let sql: AuroraDialectSql;
  let writer: Connection;
  let reader: Connection;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_cluster_q', emulator: { cluster: {} } });
    cluster = clusterOf(fx);
    sql = await auroraDialectSql();
    writer = await fx.connect();
    reader = await fx.connect({ endpoint: cluster.instanceEndpoints[2]!.host });
  });
  afterAll(async () => {
    await Promise.all([writer?.end(), reader?.end()]);
    await fx?.teardown();
  });

  it("answers aws-advanced-nodejs-wrapper's identity queries per instance and role", async () => {
    expect(await one(writer, sql.AURORA_VERSION_QUERY)).toEqual({
      Variable_name: 'aurora_version',
      Value: '3.08.0',
    });
    expect(await one(writer, sql.HOST_ID_QUERY)).toEqual({ host: 'mydb-instance-1' });
    expect(await one(reader, sql.HOST_ID_QUERY)).toEqual({ host: 'mydb-instance-3' });
    // The wrapper compares is_reader with === 1: it must arrive as a number.
    expect(await one(writer, sql.IS_READER_QUERY)).toEqual({ is_reader: 0 });
    expect(await one(reader, sql.IS_READER_QUERY)).toEqual({ is_reader: 1 });
    const [writerRows] = await writer.query<Row[]>(sql.IS_WRITER_QUERY);
    const [readerRows] = await reader.query<Row[]>(sql.IS_WRITER_QUERY);
    expect(writerRows).toEqual([{ server_id: 'mydb-instance-1' }]);
    expect(readerRows).toEqual([]);
  });

  it("answers the wrapper's topology query with every instance, the writer marked", async () => {
    const [rows] = await reader.query<Row[]>(sql.TOPOLOGY_QUERY);
    expect(rows.map((r) => [r.server_id, r.is_writer, r.cpu, r.lag])).toEqual([
      ['mydb-instance-1', 1, 0, 0],
      ['mydb-instance-2', 0, 0, 0],
      ['mydb-instance-3', 0, 0, 0],
    ]);
    for (const row of rows) expect(row.last_update_timestamp).toBeInstanceOf(Date);
    // As DATETIME(6) text, for a client that asks for date strings.
    const [asStrings] = await reader.query<Row[]>({ sql: sql.TOPOLOGY_QUERY, dateStrings: true });
    expect(String(asStrings[0]?.last_update_timestamp)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('names columns as MySQL does and answers the other spellings', async () => {
    expect(await one(writer, 'select @@aurora_server_id')).toEqual({
      '@@aurora_server_id': 'mydb-instance-1',
    });
    expect(await one(reader, 'SELECT @@innodb_read_only, @@aurora_version AS v')).toEqual({
      '@@innodb_read_only': 1,
      v: '3.08.0',
    });
    expect(await one(reader, "SHOW GLOBAL VARIABLES LIKE 'innodb_read_only'")).toEqual({
      Variable_name: 'innodb_read_only',
      Value: 'ON',
    });
    const [writers] = await reader.query<Row[]>(
      "SELECT SERVER_ID FROM information_schema.replica_host_status WHERE SESSION_ID = 'MASTER_SESSION_ID';",
    );
    expect(writers).toEqual([{ SERVER_ID: 'mydb-instance-1' }]);
  });

  it('refuses what it cannot answer with an error, never with the backend answering in its place', async () => {
    const refusedBefore = fx.emulator.stats().cluster!.auroraQueries.refused;
    const unsupported = await rejectionOf(() =>
      writer.query('SELECT * FROM information_schema.replica_host_status'),
    );
    expect(unsupported.errno).toBe(1235);
    expect(unsupported.message).toContain('replica_host_status');
    const unknown = await rejectionOf(() =>
      writer.query('SELECT durable_lsn FROM information_schema.replica_host_status'),
    );
    expect(unknown.errno).toBe(1054);
    expect(fx.emulator.stats().cluster!.auroraQueries.refused - refusedBefore).toBe(2);
    // Ordinary statements still reach MariaDB.
    expect(await one(writer, 'SELECT @@version_comment IS NOT NULL AS ok')).toEqual({ ok: 1 });
  });

  it('refuses writes and DDL on a reader with 1290, as an Aurora reader does, and reads fine', async () => {
    for (const statement of [
      "INSERT INTO items VALUES (10, 'ten')",
      "UPDATE items SET name = 'x' WHERE id = 1",
      'CREATE TABLE reader_made (id INT)',
    ]) {
      const err = await rejectionOf(() => reader.query(statement));
      expect(err.errno, statement).toBe(1290);
      expect((err as { sqlState?: string }).sqlState).toBe('HY000');
      expect(err.message).toContain('--read-only');
    }
    const [rows] = await reader.query<Row[]>('SELECT COUNT(*) AS n FROM items');
    expect(rows[0]?.n).toBe(2);
  });

  it('keeps a reader read-only when the client asks for READ WRITE or resets the session', async () => {
    await reader.query('SET SESSION TRANSACTION READ WRITE');
    expect((await rejectionOf(() => reader.query("INSERT INTO items VALUES (11, 'x')"))).errno).toBe(1290);
    await reader.query('SET SESSION tx_read_only = 0');
    expect((await rejectionOf(() => reader.query("INSERT INTO items VALUES (11, 'x')"))).errno).toBe(1290);
    await reader.query('START TRANSACTION READ WRITE');
    expect((await rejectionOf(() => reader.query("INSERT INTO items VALUES (11, 'x')"))).errno).toBe(1290);
    await reader.query('ROLLBACK');
    await reader.reset(); // COM_RESET_CONNECTION, as mysql2's resetOnRelease sends
    expect((await rejectionOf(() => reader.query("INSERT INTO items VALUES (11, 'x')"))).errno).toBe(1290);
    expect(await one(reader, 'SELECT 7 AS seven')).toEqual({ seven: 7 });
  });

  it('relays large statements and results unchanged (they stream through the relay)', async () => {
    const big = 'x'.repeat(1024 * 1024);
    await writer.query('CREATE TABLE blobs (id INT PRIMARY KEY, body LONGTEXT)');
    try {
      await writer.query('INSERT INTO blobs VALUES (1, ?)', [big]);
      const [rows] = await reader.query<Row[]>('SELECT body, LENGTH(body) AS n FROM blobs WHERE id = 1');
      expect(rows[0]?.n).toBe(big.length);
      expect(rows[0]?.body === big).toBe(true);
      const [prepared] = await reader.execute<Row[]>('SELECT LENGTH(body) AS n FROM blobs WHERE id = ?', [1]);
      expect(prepared[0]?.n).toBe(big.length);
    } finally {
      await writer.query('DROP TABLE blobs');
    }
  });

  it('accepts writes on the writer, visible at once through every reader (one backend)', async () => {
    await writer.query("INSERT INTO items VALUES (20, 'twenty')");
    expect(await one(reader, 'SELECT name FROM items WHERE id = 20')).toEqual({ name: 'twenty' });
    await writer.query('DELETE FROM items WHERE id = 20');
  });
});

describe('emulator cluster mode: failover', () => {
  let fx: EmulatorFixture;
  let cluster: EmulatorCluster;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_cluster_fo', emulator: { cluster: {} } });
    cluster = clusterOf(fx);
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  const write = (conn: Connection, id: number) =>
    conn.query('INSERT INTO items VALUES (?, ?)', [id, `row ${id}`]);

  it('cuts the old writer, promotes after promotionMs, and keeps the cluster endpoint on the old writer for dnsLagMs', async () => {
    const viaCluster = await fx.connect();
    const viaInstance1 = await fx.connect({ endpoint: cluster.instanceEndpoints[0]!.host });
    const onTarget = await fx.connect({ endpoint: cluster.instanceEndpoints[1]!.host });
    const onOther = await fx.connect({ endpoint: cluster.instanceEndpoints[2]!.host });
    const cut = [lost(viaCluster), lost(viaInstance1), lost(onTarget)];

    const failover = cluster.failover({ promotionMs: 1500, dnsLagMs: 3000 });
    expect([failover.from, failover.to]).toEqual(['mydb-instance-1', 'mydb-instance-2']);

    // At once: every session on the old writer and on the reader being promoted is gone, whichever
    // endpoint it came through (both instances restart).
    for (const err of await Promise.all(cut)) expect(err.code).toBe('PROTOCOL_CONNECTION_LOST');
    expect(cluster.topology()).toMatchObject({ writer: null, clusterEndpointTarget: 'mydb-instance-1' });
    // While promoting: the cluster endpoint leads to a down instance; the other reader still serves reads.
    const refusedBefore = cluster.topology().instances[0]!.refusedConnections;
    const down = await rejectionOf(() => fx.connect({ connectTimeout: 3000 }));
    expect(down.errno).not.toBe(1045);
    expect(cluster.topology().instances[0]!.refusedConnections - refusedBefore).toBe(1);
    const reader = await fx.connect({ endpoint: cluster.readerEndpoint.host });
    expect(await serverId(reader)).toBe('mydb-instance-3');
    await reader.end();
    expect(await serverId(onOther)).toBe('mydb-instance-3');
    const [duringPromotion] = await onOther.query<Row[]>(
      'SELECT server_id, SESSION_ID FROM information_schema.replica_host_status',
    );
    expect(duringPromotion.map((r) => r.server_id)).toEqual(['mydb-instance-3']);

    const promoted = await failover.promoted;
    expect(promoted.promotedAt).not.toBeNull();
    // The new writer takes writes on its instance endpoint...
    const newWriter = await fx.connect({ endpoint: cluster.instanceEndpoints[1]!.host });
    expect(await one(newWriter, 'SELECT @@innodb_read_only AS ro')).toEqual({ ro: 0 });
    await write(newWriter, 100);
    // ...while the cluster endpoint still leads to the old writer, back as a reader (the DNS lag).
    const stale = await fx.connect();
    expect(await serverId(stale)).toBe('mydb-instance-1');
    expect((await rejectionOf(() => write(stale, 101))).errno).toBe(1290);
    expect(cluster.topology()).toMatchObject({
      writer: 'mydb-instance-2',
      clusterEndpointTarget: 'mydb-instance-1',
    });
    const [topology] = await stale.query<Row[]>(
      "SELECT server_id, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END AS is_writer FROM information_schema.replica_host_status",
    );
    expect(topology.filter((r) => r.is_writer === 1).map((r) => r.server_id)).toEqual(['mydb-instance-2']);

    const completed = await failover.completed;
    // After the lag the cluster endpoint leads to the new writer; the stale session stays where it was.
    const fresh = await fx.connect();
    expect(await serverId(fresh)).toBe('mydb-instance-2');
    await write(fresh, 102);
    expect(await serverId(stale)).toBe('mydb-instance-1');

    expect(completed).toMatchObject({ from: 'mydb-instance-1', to: 'mydb-instance-2' });
    expect(completed.startedAt).toBeLessThanOrEqual(completed.promotedAt!);
    expect(completed.promotedAt).toBeLessThanOrEqual(completed.dnsUpdatedAt!);
    const stats = fx.emulator.stats().cluster!;
    expect(stats.failovers).toEqual([completed]);
    expect(stats.instances.map((i) => [i.id, i.role, i.available])).toEqual([
      ['mydb-instance-1', 'reader', true],
      ['mydb-instance-2', 'writer', true],
      ['mydb-instance-3', 'reader', true],
    ]);
    const [committed] = await fresh.query<Row[]>('SELECT id FROM items WHERE id >= 100 ORDER BY id');
    expect(committed.map((r) => r.id)).toEqual([100, 102]);
    await Promise.all([newWriter, stale, fresh, onOther].map((c) => c.end()));
    for (const c of [viaCluster, viaInstance1, onTarget]) c.destroy();
  });

  it('refuses a second failover while one runs, and an unknown or writer target', async () => {
    const first = cluster.failover({ promotionMs: 50, dnsLagMs: 50 });
    expect(() => cluster.failover()).toThrow(EmulatorError);
    await first.completed;
    expect(() => cluster.failover({ target: 'mydb-instance-9' })).toThrow(/no instance 'mydb-instance-9'/);
    expect(() => cluster.failover({ target: first.to })).toThrow(/already the writer/);
    try {
      cluster.failover({ target: first.to });
    } catch (err) {
      expect(err).toMatchObject({ code: 'EMULATOR_FAILOVER_REFUSED' });
    }
    expect(() => cluster.failover({ promotionMs: -1 })).toThrow(RangeError);
  });
});

describe('emulator cluster mode: lifecycle', () => {
  it('stop() during a failover rejects its promises and leaves nothing running', async () => {
    const emulator = await startEmulator({
      backend: MARIADB,
      users: {},
      keys: [],
      cluster: { instances: 2 },
    });
    expect(emulator.cluster.instanceEndpoints).toHaveLength(2);
    const failover = emulator.cluster.failover({ promotionMs: 60_000 });
    await emulator.stop();
    await expect(failover.promoted).rejects.toMatchObject({ code: 'EMULATOR_FAILOVER_REFUSED' });
    await expect(failover.completed).rejects.toThrow(/stopped/);
    expect(() => emulator.cluster.failover()).toThrow(/stopped/);
  });

  it('insists on a cluster endpoint name and a sane instance count', async () => {
    await expect(
      startEmulator({
        backend: MARIADB,
        users: {},
        keys: [],
        host: 'db.abc123.us-east-1.rds.amazonaws.com',
        cluster: {},
      }),
    ).rejects.toThrow(/cluster endpoint name/);
    await expect(
      startEmulator({ backend: MARIADB, users: {}, keys: [], cluster: { instances: 1 } }),
    ).rejects.toThrow(RangeError);
  });
});
