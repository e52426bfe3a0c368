/**
 * The two shapes of an instance that is down. `refuse`: its endpoint port, and the cluster or
 * reader endpoint's port while that endpoint leads to it, refuse TCP, as Aurora's restarting
 * instances do. `tls-cut`: every port accepts and the connection is closed after the TLS handshake
 * (what a client behind a tunnel sees). A connection routed by TLS server name through a port that
 * is up can only be cut.
 */
import net from 'node:net';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator, ClusterEndpoint } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture, rejectionOf } from '../helpers/emulator-harness.js';

type Row = RowDataPacket & Record<string, unknown>;

/** What a TCP connect to the port meets: a listener, or a refusal. */
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

const serverId = async (conn: Connection) => {
  const [rows] = await conn.query<Row[]>('SELECT @@aurora_server_id AS id');
  return String(rows[0]?.id);
};

describe("outage 'refuse'", () => {
  let fx: EmulatorFixture;
  let emulator: ClusterEmulator;
  let instance: (id: string) => ClusterEndpoint;
  beforeAll(async () => {
    fx = await createEmulatorFixture({
      name: 'emu_outage_refuse',
      emulator: { cluster: { outage: 'refuse' } },
    });
    emulator = fx.emulator as ClusterEmulator;
    instance = (id) => emulator.cluster.instanceEndpoints.find((e) => e.instanceId === id)!;
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('refuses TCP on the restarting instances and on the cluster endpoint while it leads there, until the promotion', async () => {
    const cluster = emulator.cluster;
    const failover = cluster.failover({ promotionMs: 60_000, dnsLagMs: 0 });
    expect([failover.from, failover.to]).toEqual(['mydb-instance-1', 'mydb-instance-2']);
    expect(await tcp(instance('mydb-instance-1').port)).toBe('refused');
    expect(await tcp(instance('mydb-instance-2').port)).toBe('refused');
    expect(await tcp(cluster.endpoint.port)).toBe('refused');
    expect(cluster.topology().instances.map((i) => [i.id, i.available, i.outage])).toEqual([
      ['mydb-instance-1', false, 'refuse'],
      ['mydb-instance-2', false, 'refuse'],
      ['mydb-instance-3', true, null],
    ]);

    // The reader that is up serves on its own port; through it, a name of a down instance is cut.
    const other = await fx.connect({
      endpoint: instance('mydb-instance-3').host,
      listenPort: instance('mydb-instance-3').port,
    });
    expect(await serverId(other)).toBe('mydb-instance-3');
    await other.end();
    const cutBefore = cluster.topology().instances[0]!.refusedConnections;
    const cut = await rejectionOf(() =>
      fx.connect({
        endpoint: instance('mydb-instance-1').host,
        listenPort: instance('mydb-instance-3').port,
      }),
    );
    expect(cut.errno).not.toBe(1045);
    expect(cluster.topology().instances[0]!.refusedConnections - cutBefore).toBe(1);
    // The failover stays in its promotion; teardown's stop() ends it.
  });
});

describe("outage 'tls-cut' (the default), and an outage shape per failover", () => {
  let fx: EmulatorFixture;
  let emulator: ClusterEmulator;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_outage_cut', emulator: { cluster: {} } });
    emulator = fx.emulator as ClusterEmulator;
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('keeps every port accepting and closes connections to a down instance after the handshake', async () => {
    const cluster = emulator.cluster;
    const failover = cluster.failover({ promotionMs: 300, dnsLagMs: 0 });
    const oldWriter = cluster.instanceEndpoints[0]!;
    expect(await tcp(oldWriter.port)).toBe('accepted');
    expect(await tcp(cluster.endpoint.port)).toBe('accepted');
    const before = cluster.topology().instances[0]!.refusedConnections;
    await rejectionOf(() => fx.connect({ endpoint: oldWriter.host, listenPort: oldWriter.port }));
    expect(cluster.topology().instances[0]!.refusedConnections - before).toBe(1);
    expect(cluster.topology().instances[0]!.outage).toBe('tls-cut');
    await failover.completed;
  });

  it("takes failover({ outage: 'refuse' }) over the cluster's shape, and opens the ports again at the promotion", async () => {
    const cluster = emulator.cluster;
    const failover = cluster.failover({ promotionMs: 300, dnsLagMs: 60_000, outage: 'refuse' });
    const from = cluster.endpointFor(
      cluster.instanceEndpoints.find((e) => e.instanceId === failover.from)!.host,
    )!;
    expect(await tcp(from.port)).toBe('refused');
    expect(await tcp(cluster.endpoint.port)).toBe('refused');
    await failover.promoted;
    // The old writer is back (as a reader) and the cluster endpoint still leads to it: both ports listen.
    expect(await tcp(from.port)).toBe('accepted');
    const stale = await fx.connect({ listenPort: cluster.endpoint.port });
    expect(await serverId(stale)).toBe(failover.from);
    await stale.end();
    // The DNS lag runs on; teardown's stop() ends it.
  });
});
