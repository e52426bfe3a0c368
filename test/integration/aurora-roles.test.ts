/**
 * No connection on the wrong role stays in the pool: a connection whose statement fails because the
 * server is read-only is retired when released (once the server confirms it is read-only), whichever
 * API borrowed it; and on an Aurora cluster (writer) endpoint every new connection that reached a
 * reader is replaced before a caller sees it.
 */
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { resolveOptions } from '../../src/options.js';
import { isClusterWriterEndpoint } from '../../src/shared/rds-names.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, poolFor, settle } from '../helpers/pool-fixture.js';

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
      await eventually(() => retired.length > 0, 'the server to confirm it is read-only');
      expect(retired).toEqual(['read-only']);
      expect(pool.iam.stats()).toMatchObject({ wrongRoleRetired: 1, connections: { total: 0 } });
      expect(await threadId(pool)).not.toBe(first);
    } finally {
      await pool.end();
    }
  });

  it('is retired on release through the callback API and execute() too', async () => {
    const pool = poolFor(fx, { host: emulator.cluster.readerEndpoint.host, connectionLimit: 1 });
    try {
      const connection = await new Promise<import('mysql2').PoolConnection>((resolve, reject) =>
        pool.pool.getConnection((err, c) => (err ? reject(err) : resolve(c))),
      );
      const error = await new Promise((resolve) =>
        connection.execute("INSERT INTO items VALUES (91, 'x')", [], (err) => resolve(err)),
      );
      expect(error).toMatchObject({ errno: 1290 });
      connection.release();
      await eventually(() => pool.iam.stats().wrongRoleRetired === 1, 'the connection to be retired');
    } finally {
      await pool.end();
    }
  });

  // Fails on the code before 2026-12 (it retired the connection and searched for a writer on the
  // error number alone): a read-only transaction or a SIGNAL on the writer is not a failover.
  it.each([
    [
      '1792 in a read-only transaction',
      ['START TRANSACTION READ ONLY', "INSERT INTO items VALUES (92, 'x')"],
      1792,
    ],
    [
      'a SIGNAL that raises 1290',
      ["SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1290, MESSAGE_TEXT = 'read-only'"],
      1290,
    ],
  ])('keeps a writer connection whose statement failed with %s', async (_, statements, errno) => {
    const pool = poolFor(fx, { host: emulator.cluster.instanceEndpoints[0]!.host, connectionLimit: 1 });
    try {
      const connection = await pool.getConnection();
      const first = connection.threadId;
      let failure: unknown;
      for (const sql of statements) failure = await connection.query(sql).catch((e: unknown) => e);
      expect(failure).toMatchObject({ errno });
      await connection.query('ROLLBACK');
      connection.release();
      // The pool asks the server (one @@innodb_read_only) before the connection serves again.
      expect(await threadId(pool)).toBe(first);
      expect(pool.iam.stats()).toMatchObject({ wrongRoleRetired: 0, connectionsOpened: 1 });
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

  // Fails on the code before 2026-12, which checked only a pool's first logins and those in the
  // minute after a sign of a failover: an idle pool then sent its first write after an unseen
  // promotion to the old writer.
  it('checks every new login, in steady state too', async () => {
    const checks = () => emulator.stats().cluster?.auroraQueries.variables ?? 0;
    const pool = poolFor(fx, {
      host: emulator.cluster.endpoint.host,
      connectionLimit: 4,
      topologyFailover: false,
    });
    try {
      const before = checks();
      const first = await pool.getConnection();
      expect(checks() - before).toBe(1);
      const more = await Promise.all([1, 2].map(() => pool.getConnection()));
      expect(checks() - before).toBe(3);
      for (const c of [first, ...more]) c.release();
      // Borrowing idle connections costs no round trip.
      await Promise.all([1, 2, 3].map(() => pool.query('SELECT 1')));
      expect(checks() - before).toBe(3);
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
