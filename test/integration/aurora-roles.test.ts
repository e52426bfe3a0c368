/**
 * No connection on the wrong role stays in the pool: a connection whose statement fails because the
 * server is read-only is retired when released, whichever API borrowed it; and on an Aurora cluster
 * (writer) endpoint a new connection that reached a reader is replaced before a caller sees it.
 */
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { resolveOptions } from '../../src/options.js';
import { isClusterWriterEndpoint } from '../../src/shared/rds-names.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'aurora_roles', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

const threadId = async (pool: ReturnType<typeof poolFor>) => {
  const connection = await pool.getConnection();
  const id = connection.threadId;
  connection.release();
  return id;
};

describe('a connection whose statement hits a read-only server', () => {
  it('is retired when released after getConnection(), not handed out again', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.readerEndpoint.host, connectionLimit: 1 });
    const retired: string[] = [];
    pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
    try {
      const connection = await pool.getConnection();
      const first = connection.threadId;
      const error = await connection.query("INSERT INTO items VALUES (90, 'x')").catch((e: unknown) => e);
      expect(error).toMatchObject({ errno: 1290 });
      connection.release();
      expect(retired).toEqual(['read-only']);
      expect(pool.iam.stats()).toMatchObject({ wrongRoleRetired: 1, connections: { total: 0 } });
      expect(await threadId(pool)).not.toBe(first);
    } finally {
      await pool.end();
    }
  });

  it('is retired on release through the callback API and execute() too (1792 in a read-only transaction)', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.instanceEndpoints[0]!.host, connectionLimit: 1 });
    try {
      const connection = await new Promise<import('mysql2').PoolConnection>((resolve, reject) =>
        pool.pool.getConnection((err, c) => (err ? reject(err) : resolve(c))),
      );
      await new Promise<void>((resolve, reject) =>
        connection.query('START TRANSACTION READ ONLY', (err) => (err ? reject(err) : resolve())),
      );
      const error = await new Promise((resolve) =>
        connection.execute("INSERT INTO items VALUES (91, 'x')", [], (err) => resolve(err)),
      );
      expect(error).toMatchObject({ errno: 1792 });
      connection.release();
      expect(pool.iam.stats().wrongRoleRetired).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('keeps a connection whose statement failed for another reason', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.instanceEndpoints[0]!.host, connectionLimit: 1 });
    try {
      const connection = await pool.getConnection();
      const first = connection.threadId;
      await expect(connection.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ errno: 1146 });
      connection.release();
      expect(pool.iam.stats().wrongRoleRetired).toBe(0);
      expect(await threadId(pool)).toBe(first);
    } finally {
      await pool.end();
    }
  });
});

describe('verifyWriter on the cluster endpoint', () => {
  it('is on for cluster endpoints and off for reader, custom, instance and other names', () => {
    expect(isClusterWriterEndpoint(emulator.cluster.endpoint.host)).toBe(true);
    for (const host of [
      emulator.cluster.readerEndpoint.host,
      emulator.cluster.instanceEndpoints[0]!.host,
      'orders.cluster-custom-abc123.us-east-1.rds.amazonaws.com',
      'proxy.proxy-abc123.us-east-1.rds.amazonaws.com',
      'db.internal.example',
    ]) {
      expect(isClusterWriterEndpoint(host), host).toBe(false);
    }
    const base = { user: 'u', credentials: async () => ({ accessKeyId: 'a', secretAccessKey: 'b' }) };
    expect(resolveOptions({ ...base, host: emulator.cluster.endpoint.host }).verifyWriter).toBe(true);
    expect(
      resolveOptions({ ...base, host: emulator.cluster.endpoint.host, verifyWriter: false }).verifyWriter,
    ).toBe(false);
    expect(resolveOptions({ ...base, host: emulator.cluster.readerEndpoint.host }).verifyWriter).toBe(false);
  });

  it("checks a pool's first logins, then only logins after a sign of a failover", async () => {
    const checks = () => emulator.stats().cluster?.auroraQueries.variables ?? 0;
    const pool = poolFor(fx, { host: emulator.cluster.endpoint.host, connectionLimit: 4 });
    try {
      const before = checks();
      const first = await pool.getConnection();
      expect(checks() - before).toBe(1); // the first login is checked
      // Growing the pool in steady state costs no round trip.
      const more = await Promise.all([1, 2].map(() => pool.getConnection()));
      expect(checks() - before).toBe(1);
      for (const c of [first, ...more]) c.release();
      // A connection found dead is a sign of a failover: the next new login is checked.
      emulator.faults.dropAllConnections();
      await new Promise((resolve) => setTimeout(resolve, 100));
      await pool.query('SELECT 1');
      expect(checks() - before).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it('replaces new connections that land on the old writer during the DNS lag, until one reaches the writer', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.endpoint.host, acquireTimeoutMs: 8000 });
    try {
      await pool.query('SELECT 1');
      const failover = emulator.cluster.failover({ promotionMs: 200, dnsLagMs: 1500 });
      await failover.promoted;
      // Every connection the pool had is gone with the old writer; the cluster endpoint still leads
      // there (now a reader) for the DNS lag. The write below waits it out instead of failing.
      await settle(50);
      const [result] = await pool.query<ResultSetHeader>("INSERT INTO items VALUES (92, 'after failover')");
      expect(result.affectedRows).toBe(1);
      const [rows] = await pool.query<Row[]>('SELECT @@innodb_read_only AS ro');
      expect(rows[0]?.ro).toBe(0);
      expect(pool.iam.stats().wrongRoleRetired).toBeGreaterThan(0);
      await failover.completed;
    } finally {
      await pool.end();
    }
  });

  it('off, a write during the DNS lag lands on the old writer and fails with 1290', async () => {
    const before = emulator.cluster.topology().writer;
    const pool = poolFor(fx, { host: emulator.cluster.endpoint.host, verifyWriter: false });
    try {
      const failover = emulator.cluster.failover({ promotionMs: 200, dnsLagMs: 3000 });
      await failover.promoted;
      expect(emulator.cluster.topology().writer).not.toBe(before);
      const error = await pool.query("INSERT INTO items VALUES (93, 'x')").catch((e: unknown) => e);
      expect(error).toMatchObject({ errno: 1290 });
      await failover.completed;
    } finally {
      await pool.end();
    }
  });
});
