/**
 * AuroraTopology with a fake cluster: what it believes of a server's answers, when it follows a new
 * writer, when it stands down, and that a search is bounded. The answers are shaped as mysql2
 * returns them for the pool's own statements (rows as arrays); test/integration covers the emulator.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { READ_ONLY_QUERY } from '../../src/pool/own-queries.js';
import {
  AuroraTopology,
  MAX_INSTANCES,
  MAX_SEARCH_MS,
  type MonitorConnection,
  TOPOLOGY_QUERY,
  type TopologyListener,
} from '../../src/pool/topology.js';

const DOMAIN = 'abc123.us-east-1.rds.amazonaws.com';
const CLUSTER = `orders.cluster-${DOMAIN}`;
const host = (id: string) => `${id}.${DOMAIN}`;

/** What a fake server answers a statement with: rows, an error packet, or anything else. */
type Answer = unknown[][] | { errno: number } | { affectedRows: number } | 'hang';

interface FakeCluster {
  /** Answers per host (`*` for any host) and statement. */
  answers: Map<string, (sql: string) => Answer>;
  connects: string[];
  open: number;
}

function fakeCluster(): FakeCluster {
  return { answers: new Map(), connects: [], open: 0 };
}

function connector(cluster: FakeCluster) {
  return async (target: string): Promise<MonitorConnection | undefined> => {
    cluster.connects.push(target);
    const answer = cluster.answers.get(target) ?? cluster.answers.get('*');
    if (answer === undefined) return undefined; // the host is down
    cluster.open++;
    return {
      query: ((options: { sql: string }, callback: (err: unknown, rows?: unknown) => void) => {
        const result = answer(options.sql);
        if (result === 'hang') return;
        if ('errno' in (result as object)) queueMicrotask(() => callback(result));
        else queueMicrotask(() => callback(null, result));
      }) as MonitorConnection['query'],
      destroy: () => {
        cluster.open--;
      },
    };
  };
}

/** A server of an Aurora cluster whose writer is `writer`; `readOnly` for its own read-only flag. */
function auroraServer(rows: unknown[][], readOnly: 0 | 1) {
  return (sql: string): Answer => {
    if (sql === TOPOLOGY_QUERY) return rows;
    if (sql === READ_ONLY_QUERY) return [[readOnly]];
    return { errno: 1064 };
  };
}

const row = (id: string, writer: boolean) => [id, writer ? 1 : 0, 1.5, 0, '2026-12-06 10:00:00'];

function topologyFor(cluster: FakeCluster, listener: TopologyListener = {}) {
  const topology = new AuroraTopology(
    { clusterHost: CLUSTER, instanceHostPattern: `?.${DOMAIN}`, pollIntervalMs: 50, refreshIntervalMs: 1000 },
    connector(cluster),
  );
  topology.follow(listener);
  return topology;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await vi.advanceTimersByTimeAsync(10);
  expect(condition()).toBe(true);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('AuroraTopology', () => {
  it('learns the instances and their endpoints from the first read', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    cluster.answers.set('*', auroraServer([row('orders-1', true), row('orders-2', false)], 0));
    const topology = topologyFor(cluster);
    topology.started();
    await until(() => topology.stats().writer !== undefined);
    expect(topology.stats()).toMatchObject({
      state: 'following',
      writer: host('orders-1'),
      target: CLUSTER,
      instances: [
        { id: 'orders-1', host: host('orders-1'), role: 'writer' },
        { id: 'orders-2', host: host('orders-2'), role: 'reader' },
      ],
    });
    topology.close();
    expect(cluster.open).toBe(0);
  });

  // Fails on the code before 2026-12: `rows.map is not a function`, an unhandled rejection that
  // ended the process, from a fire-and-forget refresh.
  it('survives an OK packet where rows belong (a proxy with a canned answer)', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    cluster.answers.set('*', () => ({ affectedRows: 0 }));
    const topology = topologyFor(cluster);
    topology.started();
    topology.writerMayHaveMoved();
    await vi.advanceTimersByTimeAsync(500);
    expect(topology.stats()).toMatchObject({ writer: undefined, target: CLUSTER, instances: [] });
    topology.close();
  });

  // Fails on the code before 2026-12: ids were pasted into the pattern with String.replace ($'
  // patterns applied) and never checked, and every row was believed.
  it('believes only RDS instance identifiers, one writer, and at most MAX_INSTANCES instances', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    const rows = [
      row('orders-1', true),
      row("$'evil", false),
      row('a.b', false),
      row('nul\0byte', false),
      row('x--y', false),
      row('-lead', false),
      row('7digits', false),
      ...Array.from({ length: 40 }, (_, i) => row(`reader-${i}`, false)),
    ];
    cluster.answers.set('*', auroraServer(rows, 0));
    const topology = topologyFor(cluster);
    topology.started();
    await until(() => topology.stats().writer !== undefined);
    const instances = topology.stats().instances;
    expect(instances).toHaveLength(MAX_INSTANCES);
    expect(instances.every((i) => /^(orders-1|reader-\d+)$/.test(i.id))).toBe(true);
    expect(instances.every((i) => i.host === host(i.id))).toBe(true);
    topology.close();

    // Two writers (a promotion half-done, or a server making it up): not believed at all.
    const twoWriters = fakeCluster();
    twoWriters.answers.set('*', auroraServer([row('orders-1', true), row('orders-2', true)], 0));
    const confused = topologyFor(twoWriters);
    confused.started();
    await vi.advanceTimersByTimeAsync(200);
    expect(confused.stats().instances).toEqual([]);
    confused.close();
  });

  // Fails on the code before 2026-12: without replica_host_status, a search asked every host
  // again every poll interval until end() (about 4 logins a second from an idle pool).
  it('stands down quietly on an endpoint without an Aurora topology (an RDS Multi-AZ DB cluster)', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    cluster.answers.set('*', () => ({ errno: 1109 })); // Unknown table 'replica_host_status'
    const topology = topologyFor(cluster);
    topology.started();
    await vi.advanceTimersByTimeAsync(100);
    expect(topology.stats()).toMatchObject({ state: 'unavailable', target: CLUSTER, searching: false });
    const connects = cluster.connects.length;
    topology.writerMayHaveMoved();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(cluster.connects.length).toBe(connects);
    topology.close();
  });

  // Fails on the code before 2026-12: a refresh that learned another writer moved nothing.
  it('follows a writer that a periodic read finds, once it confirms it takes writes', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    const changes: string[] = [];
    cluster.answers.set('*', auroraServer([row('orders-1', true), row('orders-2', false)], 0));
    const topology = topologyFor(cluster, {
      writerChanged: (m) => changes.push(`${m.previousWriter} -> ${m.writer}`),
    });
    topology.started();
    await until(() => topology.stats().writer === host('orders-1'));
    // A failover the pool did not witness: the next refresh names orders-2.
    cluster.answers.set('*', auroraServer([row('orders-1', false), row('orders-2', true)], 0));
    await vi.advanceTimersByTimeAsync(1000);
    await until(() => changes.length === 1);
    expect(changes).toEqual([`${host('orders-1')} -> ${host('orders-2')}`]);
    expect(topology.stats()).toMatchObject({ target: host('orders-2'), failovers: 1 });
    topology.close();
  });

  // Fails on the code before this test: each round of a search paused pollIntervalMs after its reads,
  // which wait for turns under the login cap, so the instances were asked every 450 ms here (250 ms
  // asked for); and a promoted writer that answered the read was confirmed on a second login.
  // Together up to about half a second more before writes resume after a promotion.
  it('asks the instances every pollIntervalMs while it searches, and confirms a writer that answered on the same connection', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    const asked: Array<{ host: string; at: number }> = [];
    const open = connector(cluster);
    const TURN_MS = 50; // each connect waits for its turn under the login cap (20/s)
    const topology = new AuroraTopology(
      {
        clusterHost: CLUSTER,
        instanceHostPattern: `?.${DOMAIN}`,
        pollIntervalMs: 250,
        refreshIntervalMs: 60_000,
      },
      async (target) => {
        await new Promise((resolve) => setTimeout(resolve, TURN_MS));
        asked.push({ host: target, at: Date.now() });
        return open(target);
      },
    );
    const found: number[] = [];
    topology.follow({ writerChanged: () => found.push(Date.now()) });
    const all = [row('orders-1', true), row('orders-2', false), row('orders-3', false)];
    cluster.answers.set('*', auroraServer(all, 0));
    topology.started();
    await until(() => topology.stats().writer === host('orders-1'));

    // The writer and the reader being promoted restart; the other reader lists only itself.
    cluster.answers.clear();
    cluster.answers.set(host('orders-3'), auroraServer([row('orders-3', false)], 1));
    const searchFrom = asked.length;
    topology.writerMayHaveMoved();
    await vi.advanceTimersByTimeAsync(2000);
    const rounds = asked.slice(searchFrom).filter((a) => a.host === host('orders-2'));
    // Each round asks orders-2, orders-3, orders-1 and the cluster endpoint, 200 ms of turns in all.
    expect(rounds.length).toBeGreaterThanOrEqual(7);
    for (let n = 1; n < rounds.length; n++) {
      expect((rounds[n] as { at: number }).at - (rounds[n - 1] as { at: number }).at).toBe(250);
    }

    // orders-2 is promoted: the next round finds it, with one login to it.
    const promotedAt = Date.now();
    const promoted = [row('orders-1', false), row('orders-2', true), row('orders-3', false)];
    cluster.answers.set(host('orders-2'), auroraServer(promoted, 0));
    const beforePromotion = asked.length;
    await until(() => found.length === 1);
    expect((found[0] as number) - promotedAt).toBeLessThanOrEqual(250 + TURN_MS);
    expect(asked.slice(beforePromotion).filter((a) => a.host === host('orders-2'))).toHaveLength(1);
    expect(topology.stats()).toMatchObject({ target: host('orders-2'), failovers: 1 });
    topology.close();
    expect(cluster.open).toBe(0);
  });

  it('gives up a search after MAX_SEARCH_MS, and leaves no timer when closed', async () => {
    vi.useFakeTimers();
    const cluster = fakeCluster();
    cluster.answers.set('*', auroraServer([row('orders-1', true), row('orders-2', false)], 0));
    const topology = topologyFor(cluster);
    topology.started();
    await until(() => topology.stats().writer !== undefined);
    cluster.answers.clear(); // every host down
    topology.writerMayHaveMoved();
    expect(topology.stats().searching).toBe(true);
    await vi.advanceTimersByTimeAsync(MAX_SEARCH_MS + 1000);
    expect(topology.stats().searching).toBe(false);
    topology.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
