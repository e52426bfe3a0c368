/**
 * Aurora Auto Scaling and failing readers while the emulator runs: a reader added gets an endpoint
 * of its own (a name from the cluster's pattern, a port, a certificate that covers it) and joins the
 * topology; a reader removed closes its sessions, refuses new ones and leaves the topology; a reader
 * that fails is down (no failover) until it recovers. Per-instance logins and statements are counted.
 */
import net from 'node:net';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterEmulator, EmulatorError, startEmulator } from '../../src/emulator/index.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  MARIADB,
  rejectionOf,
} from '../helpers/emulator-harness.js';

type Row = RowDataPacket & Record<string, unknown>;

const serverIds = async (conn: Connection) => {
  const [rows] = await conn.query<Row[]>('SELECT server_id FROM information_schema.replica_host_status');
  return rows.map((r) => String(r.server_id)).sort();
};

const lost = (conn: Connection) =>
  new Promise<Error & { code?: string }>((resolve) => conn.once('error', resolve));

function tcp(port: number): Promise<'accepted' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNREFUSED' ? resolve('refused') : reject(err),
    );
  });
}

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
let writer: Connection;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'emu_cluster_scale', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
  writer = await fx.connect();
});
afterAll(async () => {
  await writer?.end();
  await fx?.teardown();
});

describe('readers added and removed (Aurora Auto Scaling)', () => {
  it('adds a reader with its own endpoint, reachable with a verified certificate, in the topology', async () => {
    const cluster = emulator.cluster;
    const endpoint = await cluster.addReader();
    expect(endpoint).toMatchObject({
      kind: 'instance',
      instanceId: 'mydb-instance-4',
      host: 'mydb-instance-4.abc123.us-east-1.rds.amazonaws.com',
    });
    expect(cluster.instanceEndpoints.map((e) => e.instanceId)).toEqual([
      'mydb-instance-1',
      'mydb-instance-2',
      'mydb-instance-3',
      'mydb-instance-4',
    ]);
    expect(cluster.endpointFor(endpoint.host)).toBe(endpoint);
    const ports = new Set(
      [cluster.endpoint, cluster.readerEndpoint, ...cluster.instanceEndpoints].map((e) => e.port),
    );
    expect(ports.size).toBe(6);
    for (const listenPort of [endpoint.port, cluster.endpoint.port]) {
      const conn = await fx.connect({ endpoint: endpoint.host, listenPort });
      const [rows] = await conn.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
      expect(rows[0]).toEqual({ id: 'mydb-instance-4', ro: 1 });
      await conn.end();
    }
    expect(await serverIds(writer)).toEqual([
      'mydb-instance-1',
      'mydb-instance-2',
      'mydb-instance-3',
      'mydb-instance-4',
    ]);
    expect(cluster.topology().instances.at(-1)).toMatchObject({
      id: 'mydb-instance-4',
      role: 'reader',
      available: true,
    });
  });

  it('takes an identifier of your choosing, and refuses a taken or malformed one', async () => {
    const endpoint = await emulator.cluster.addReader({ id: 'application-autoscaling-7f3a' });
    expect(endpoint.host).toBe('application-autoscaling-7f3a.abc123.us-east-1.rds.amazonaws.com');
    await expect(emulator.cluster.addReader({ id: 'application-autoscaling-7f3a' })).rejects.toMatchObject({
      code: 'EMULATOR_CLUSTER_CHANGE_REFUSED',
    });
    await expect(emulator.cluster.addReader({ id: '9-lives' })).rejects.toThrow(TypeError);
    await expect(emulator.cluster.addReader({ id: 'two--hyphens' })).rejects.toThrow(TypeError);
    emulator.cluster.removeReader('application-autoscaling-7f3a');
  });

  it('removes a reader: its sessions close, its port refuses, its name is closed through any port, it leaves the topology', async () => {
    const cluster = emulator.cluster;
    const endpoint = cluster.endpointFor('mydb-instance-4.abc123.us-east-1.rds.amazonaws.com')!;
    const session = await fx.connect({ endpoint: endpoint.host });
    const closed = lost(session);
    cluster.removeReader('mydb-instance-4');
    expect((await closed).code).toBe('PROTOCOL_CONNECTION_LOST');
    expect(await tcp(endpoint.port)).toBe('refused');
    await rejectionOf(() => fx.connect({ endpoint: endpoint.host, listenPort: cluster.endpoint.port }));
    expect(cluster.endpointFor(endpoint.host)).toBeUndefined();
    expect(cluster.instanceEndpoints.map((e) => e.instanceId)).not.toContain('mydb-instance-4');
    expect(await serverIds(writer)).toEqual(['mydb-instance-1', 'mydb-instance-2', 'mydb-instance-3']);
    expect(cluster.topology().instances.map((i) => i.id)).not.toContain('mydb-instance-4');
  });

  it('numbers the next added reader after every instance ever added', async () => {
    const endpoint = await emulator.cluster.addReader();
    expect(endpoint.instanceId).toBe('mydb-instance-6');
    emulator.cluster.removeReader('mydb-instance-6');
  });

  it('refuses to remove or fail the writer, an unknown instance, or one in a running failover', async () => {
    const cluster = emulator.cluster;
    expect(() => cluster.removeReader('mydb-instance-1')).toThrow(/is the writer/);
    expect(() => cluster.failReader('mydb-instance-1')).toThrow(/is the writer/);
    expect(() => cluster.removeReader('mydb-instance-9')).toThrow(/no instance 'mydb-instance-9'/);
    const failover = cluster.failover({ promotionMs: 50, dnsLagMs: 50, target: 'mydb-instance-2' });
    try {
      cluster.removeReader('mydb-instance-2');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EmulatorError);
      expect(err).toMatchObject({
        code: 'EMULATOR_CLUSTER_CHANGE_REFUSED',
        message: /restarting in a failover/,
      });
    }
    await failover.completed;
    await writer.end();
    writer = await fx.connect({ endpoint: cluster.instanceEndpoints[1]!.host });
  });

  it('stops at 16 instances, as Aurora does', async () => {
    const standalone = await startEmulator({
      backend: MARIADB,
      users: {},
      keys: [],
      cluster: { instances: 15 },
    });
    try {
      await standalone.cluster.addReader();
      await expect(standalone.cluster.addReader()).rejects.toThrow(/16 instances/);
    } finally {
      await standalone.stop();
    }
  });
});

describe('a reader that fails (no failover)', () => {
  it('cuts its sessions, closes new connections, leaves the topology, and comes back on recoverReader()', async () => {
    const cluster = emulator.cluster;
    const failing = cluster.topology().instances.find((i) => i.role === 'reader')!.id;
    const endpoint = cluster.instanceEndpoints.find((e) => e.instanceId === failing)!;
    const session = await fx.connect({ endpoint: endpoint.host });
    const closed = lost(session);
    cluster.failReader(failing);
    expect((await closed).code).toBe('PROTOCOL_CONNECTION_LOST');
    const before = cluster.topology().instances.find((i) => i.id === failing)!;
    expect(before).toMatchObject({ available: false, outage: 'tls-cut' });
    await rejectionOf(() => fx.connect({ endpoint: endpoint.host }));
    expect(cluster.topology().instances.find((i) => i.id === failing)!.refusedConnections).toBe(
      before.refusedConnections + 1,
    );
    expect(await serverIds(writer)).not.toContain(failing);
    // No failover: the writer is where it was, and a failed reader cannot be promoted.
    expect(() => cluster.failover({ target: failing })).toThrow(/is down/);

    cluster.recoverReader(failing);
    const back = await fx.connect({ endpoint: endpoint.host });
    const [rows] = await back.query<Row[]>('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro');
    expect(rows[0]).toEqual({ id: failing, ro: 1 });
    await back.end();
    expect(await serverIds(writer)).toContain(failing);
  });

  it("with outage 'refuse', refuses TCP on its port; recoverAfterMs brings it back by itself", async () => {
    const cluster = emulator.cluster;
    const failing = cluster.topology().instances.find((i) => i.role === 'reader')!.id;
    const endpoint = cluster.instanceEndpoints.find((e) => e.instanceId === failing)!;
    cluster.failReader(failing, { outage: 'refuse', recoverAfterMs: 200 });
    expect(await tcp(endpoint.port)).toBe('refused');
    expect(() => cluster.failReader(failing)).toThrow(/already down/);
    // Wait for it to come back (the assertion is on what it does, not on when).
    while (!cluster.topology().instances.find((i) => i.id === failing)!.available) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await tcp(endpoint.port)).toBe('accepted');
  });
});

describe('per-instance counts', () => {
  it('counts logins and statements (text and prepared) per instance', async () => {
    const cluster = emulator.cluster;
    const reader = cluster.topology().instances.find((i) => i.role === 'reader')!;
    const conn = await fx.connect({ endpoint: reader.host });
    await conn.query('SELECT 1');
    await conn.query('SELECT @@aurora_server_id');
    await conn.execute('SELECT ? AS n', [1]);
    await conn.ping();
    const after = cluster.topology().instances.find((i) => i.id === reader.id)!;
    expect(after.logins - reader.logins).toBe(1);
    // Three statements (the emulator answered one of them itself); a ping and a prepare are not statements.
    expect(after.queries - reader.queries).toBe(3);
    expect(after.liveSessions).toBe(reader.liveSessions + 1);
    await conn.end();
  });
});
