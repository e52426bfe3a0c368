/**
 * topologyFailover: the pool reads the cluster's topology, and after a failover logs in to the new
 * writer's instance endpoint (a token signed for that endpoint) while the cluster endpoint's DNS
 * still leads to the old writer.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { ResultSetHeader, RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import {
  DIAGNOSTICS_CHANNELS,
  IamOptionsError,
  type TokenSignedInfo,
  type TopologyChangedMessage,
} from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'aurora_topology', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

describe('topologyFailover', () => {
  it('learns the instances, and writes to the new writer before the cluster endpoint moves', async () => {
    const pool = poolFor(fx, {
      host: emulator.cluster.endpoint.host,
      topologyFailover: { pollIntervalMs: 100 },
      acquireTimeoutMs: 8000,
    });
    const changes: TopologyChangedMessage[] = [];
    pool.iam.on('topologyChanged', (m) => changes.push(m));
    const published: unknown[] = [];
    const onMessage = (m: unknown) => published.push(m);
    subscribe(DIAGNOSTICS_CHANNELS.topologyChanged, onMessage);
    const signed: TokenSignedInfo[] = [];
    pool.iam.on('tokenSigned', (info) => signed.push(info));
    try {
      await pool.query('SELECT 1');
      await eventually(() => (pool.iam.stats().topology?.instances.length ?? 0) === 3, 'the topology');
      const before = pool.iam.stats().topology;
      expect(before).toMatchObject({
        writer: emulator.cluster.instanceEndpoints[0]?.host,
        target: emulator.cluster.endpoint.host,
        failovers: 0,
      });

      const failover = emulator.cluster.failover({ promotionMs: 500, dnsLagMs: 3000 });
      const newWriter = emulator.cluster.endpointFor(
        emulator.cluster.instanceEndpoints.find((e) => e.host.startsWith(`${failover.to}.`))?.host ?? '',
      );
      await failover.promoted;
      const [result] = await pool.query<ResultSetHeader>("INSERT INTO items VALUES (95, 'topology')");
      expect(result.affectedRows).toBe(1);
      // The cluster endpoint still leads to the old writer: the write went to the new writer directly.
      expect(emulator.cluster.topology().clusterEndpointTarget).toBe(failover.from);
      const [rows] = await pool.query<Row[]>('SELECT @@aurora_server_id AS id');
      expect(rows[0]?.id).toBe(failover.to);

      const after = pool.iam.stats().topology;
      expect(after).toMatchObject({ writer: newWriter?.host, target: newWriter?.host, failovers: 1 });
      expect(changes.at(-1)).toMatchObject({ writer: newWriter?.host, previousWriter: before?.writer });
      expect(published.at(-1)).toMatchObject({ writer: newWriter?.host });
      // Tokens are signed for the instance endpoint the pool logs in to.
      expect(signed.map((s) => s.hostname)).toContain(newWriter?.host);
      await failover.completed;
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.topologyChanged, onMessage);
      await pool.end();
    }
  });

  it('with an address per endpoint (connectTo), follows a failover whose down instances refuse TCP', async () => {
    const dialled = new Set<string>();
    const pool = poolFor(fx, {
      host: emulator.cluster.endpoint.host,
      connectHost: undefined,
      connectPort: undefined,
      // What DNS does on AWS: each endpoint name to its own address (here, its own port).
      connectTo: (host) => {
        dialled.add(host);
        const endpoint = emulator.cluster.endpointFor(host);
        if (!endpoint) throw new Error(`no endpoint ${host}`);
        return { host: '127.0.0.1', port: endpoint.port };
      },
      topologyFailover: { pollIntervalMs: 50 },
    });
    try {
      await pool.query('SELECT 1');
      await eventually(() => (pool.iam.stats().topology?.instances.length ?? 0) === 3, 'the topology');
      const failover = emulator.cluster.failover({ promotionMs: 700, dnsLagMs: 3000, outage: 'refuse' });
      try {
        // The write waits while the writer is down, then goes to the new writer's own address: the
        // cluster endpoint's record has not moved yet.
        await settle(50);
        const [result] = await pool.query<ResultSetHeader>("INSERT INTO items VALUES (96, 'connectTo')");
        expect(result.affectedRows).toBe(1);
        expect(emulator.cluster.topology().clusterEndpointTarget).toBe(failover.from);
        const [rows] = await pool.query<Row[]>('SELECT @@aurora_server_id AS id');
        expect(rows[0]?.id).toBe(failover.to);
        expect([...dialled].some((host) => host.startsWith(`${failover.to}.`))).toBe(true);
      } finally {
        await failover.completed;
      }
    } finally {
      await pool.query('DELETE FROM items WHERE id = 96').catch(() => {});
      await pool.end();
    }
  });

  it('moves nothing on a false alarm: a lost connection with the same writer', async () => {
    const pool = poolFor(fx, {
      host: emulator.cluster.endpoint.host,
      topologyFailover: { pollIntervalMs: 100 },
      connectionLimit: 4,
      validateAfterIdleMs: 0,
    });
    const changes: TopologyChangedMessage[] = [];
    pool.iam.on('topologyChanged', (m) => changes.push(m));
    const retired: string[] = [];
    pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
    try {
      const connections = await Promise.all([1, 2, 3, 4].map(() => pool.getConnection()));
      for (const c of connections) c.release();
      await eventually(() => (pool.iam.stats().topology?.instances.length ?? 0) === 3, 'the topology');
      // One session dies for a reason of its own (a KILL): the writer did not move.
      const victim = emulator.sessions()[0];
      expect(victim).toBeDefined();
      emulator.faults.dropConnection(victim!.id);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT 1')));
      await new Promise((resolve) => setTimeout(resolve, 800)); // the search has run by now
      expect(changes).toEqual([]);
      expect(retired.filter((r) => r === 'read-only' || r === 'not-writer')).toEqual([]);
      const writer = emulator.cluster.instanceEndpoints.find((e) =>
        e.host.startsWith(`${emulator.cluster.topology().writer}.`),
      );
      // New connections may go to the writer's own endpoint now; it is the same writer.
      expect([emulator.cluster.endpoint.host, writer?.host]).toContain(pool.iam.stats().topology?.target);
      expect(pool.iam.stats().topology).toMatchObject({ failovers: 0, searching: false });
      expect(pool.iam.stats().connections.total).toBeGreaterThanOrEqual(3);
    } finally {
      await pool.end();
    }
  });

  it('needs a cluster endpoint, or an instance host pattern', () => {
    expect(() => poolFor(fx, { host: emulator.cluster.readerEndpoint.host, topologyFailover: true })).toThrow(
      IamOptionsError,
    );
    expect(() =>
      poolFor(fx, { host: emulator.cluster.instanceEndpoints[0]!.host, topologyFailover: true }),
    ).toThrow(IamOptionsError);
    expect(() =>
      poolFor(fx, {
        host: emulator.cluster.instanceEndpoints[0]!.host,
        topologyFailover: { instanceHostPattern: 'no-placeholder.example' },
      }),
    ).toThrow('topologyFailover.instanceHostPattern');
  });
});
