/**
 * ReaderRoute with a fake topology and fake connections: where a reader pool's new connections go,
 * and which connections rebalancing moves so that connections per reader differ by at most one.
 * test/integration/aurora-cluster.test.ts covers the same against the emulator.
 */
import type { PoolConnection as CorePoolConnection } from 'mysql2';
import { describe, expect, it } from 'vitest';
import type { TopologyInstance } from '../../src/diagnostics.js';
import { ReaderRoute } from '../../src/pool/routing.js';
import type { AuroraTopology } from '../../src/pool/topology.js';

const DOMAIN = 'abc123.us-east-1.rds.amazonaws.com';
const host = (id: string) => `${id}.${DOMAIN}`;
const WRITER = host('db-1');

/** A topology whose instances the test sets: the writer, then readers db-2, db-3, ... */
function fakeTopology(readers: string[]) {
  const state = { readers };
  const instances = (): TopologyInstance[] => [
    { id: 'db-1', host: WRITER, role: 'writer' },
    ...state.readers.map((id) => ({ id, host: host(id), role: 'reader' as const })),
  ];
  const topology = {
    instances,
    known: async () => {},
    stats: () => ({ writer: WRITER }),
  } as unknown as AuroraTopology;
  return { topology, state };
}

const connectionOn = (id: string) => ({ config: { host: host(id) } }) as unknown as CorePoolConnection;

/** A pool's connections, `counts[id]` of them on each reader, in that order. */
function connections(counts: Record<string, number>): CorePoolConnection[] {
  return Object.entries(counts).flatMap(([id, n]) => Array.from({ length: n }, () => connectionOn(id)));
}

function route(readers: string[], all: CorePoolConnection[], cooldownMs = 1000) {
  const { topology, state } = fakeTopology(readers);
  const reader = new ReaderRoute(topology, () => all, {
    readerEndpoint: `orders.cluster-ro-${DOMAIN}`,
    fallbackToWriter: false,
    cooldownMs,
  });
  return { reader, state };
}

/** The pool retires the moved connections (idle ones at once); nothing replaces them yet. */
function retire(reader: ReaderRoute, all: CorePoolConnection[]): CorePoolConnection[] {
  const moved = reader.surplus();
  for (const connection of moved) all.splice(all.indexOf(connection), 1);
  return moved;
}

/** A new login, where next() says. */
function login(reader: ReaderRoute, all: CorePoolConnection[]): void {
  const host = reader.next();
  all.push({ config: { host } } as unknown as CorePoolConnection);
  reader.succeeded(host);
}

/** Moves the surplus as a pool under load does: each moved connection is replaced by a new login. */
function rebalance(reader: ReaderRoute, all: CorePoolConnection[]): void {
  for (const _ of retire(reader, all)) login(reader, all);
}

function spread(reader: ReaderRoute, readers: string[]): number[] {
  const counts = reader.connectionsByHost();
  return readers.map((id) => counts.get(host(id)) ?? 0);
}

describe('ReaderRoute', () => {
  it('sends each new connection to the reader with the fewest', () => {
    const all = connections({ 'db-2': 2, 'db-3': 1, 'db-4': 2 });
    const { reader } = route(['db-2', 'db-3', 'db-4'], all);
    expect(reader.next()).toBe(host('db-3'));
  });

  it('moves nothing when connections per reader already differ by at most one', () => {
    const cases: Array<Record<string, number>> = [
      { 'db-2': 4, 'db-3': 4, 'db-4': 4 },
      { 'db-2': 2, 'db-3': 1, 'db-4': 2 },
      { 'db-2': 2, 'db-3': 2, 'db-4': 1, 'db-5': 1 },
    ];
    for (const counts of cases) {
      const all = connections(counts);
      const { reader } = route(Object.keys(counts), all);
      expect(reader.surplus()).toEqual([]);
    }
  });

  it('gives a reader added to 3 readers with 12 connections its 3', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const readers = ['db-2', 'db-3', 'db-4', 'db-5'];
    const { reader } = route(readers, all);
    const moved = retire(reader, all);
    expect(moved).toHaveLength(3);
    for (const _ of moved) login(reader, all);
    expect(spread(reader, readers)).toEqual([3, 3, 3, 3]);
  });

  it.each([
    // 6 connections on 3 readers, a 4th added: its share is 1 (2/2/1/1), though no reader holds
    // more than ceil(6/4) = 2. Moving only what lies above ceil(n/readers) left 2/2/2/0.
    [{ 'db-2': 2, 'db-3': 2, 'db-4': 2 }, [2, 2, 1, 1]],
    [{ 'db-2': 3, 'db-3': 3, 'db-4': 3 }, [3, 2, 2, 2]],
    [{ 'db-2': 2, 'db-3': 2, 'db-4': 1 }, [2, 1, 1, 1]],
  ])(
    'evens out %j when a reader is added: connections per reader differ by at most one',
    (counts, expected) => {
      const all = connections(counts);
      const readers = [...Object.keys(counts), 'db-5'];
      const { reader } = route(readers, all);
      rebalance(reader, all);
      expect(spread(reader, readers)).toEqual(expected);
      // And once even, it stays: nothing more to move.
      expect(reader.surplus()).toEqual([]);
    },
  );

  it('moves nothing more while the moved connections wait for their replacements (an idle pool, two rebalances in a row)', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const readers = ['db-2', 'db-3', 'db-4', 'db-5'];
    const { reader } = route(readers, all);
    expect(retire(reader, all)).toHaveLength(3);
    // Nobody borrowed: no login replaced them. Rebalancing again must not shrink the pool further.
    expect(reader.surplus()).toEqual([]);
    expect(reader.surplus()).toEqual([]);
    expect(spread(reader, readers)).toEqual([3, 3, 3, 0]);
    // Then callers come: the new logins go to the added reader, and the pool is even.
    for (let i = 0; i < 3; i++) login(reader, all);
    expect(spread(reader, readers)).toEqual([3, 3, 3, 3]);
    expect(reader.surplus()).toEqual([]);
  });

  it('forgets moved connections once new logins replaced them: the next change is evened out too', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const { reader, state } = route(['db-2', 'db-3', 'db-4', 'db-5'], all);
    // Borrowed when moved: they leave when released, and then logins replace them.
    const moved = reader.surplus();
    for (const connection of moved) all.splice(all.indexOf(connection), 1);
    for (const _ of moved) login(reader, all);
    expect(spread(reader, state.readers)).toEqual([3, 3, 3, 3]);
    // Another reader: 12 connections over 5 readers are 3/3/2/2/2.
    state.readers = [...state.readers, 'db-6'];
    rebalance(reader, all);
    expect(spread(reader, state.readers).sort()).toEqual([2, 2, 2, 3, 3]);
  });

  it('counts a borrowed connection it moved as leaving until the pool lets it go', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const { reader } = route(['db-2', 'db-3', 'db-4', 'db-5'], all);
    const moved = reader.surplus();
    expect(moved).toHaveLength(3);
    // Still borrowed (in the pool): asked again, it names no other connection.
    expect(reader.surplus()).toEqual([]);
    // A new connection goes where the leaving ones are not counted: the added reader.
    expect(reader.next()).toBe(host('db-5'));
  });

  it('moves every connection off a reader that left, and places them evenly on the others', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const { reader, state } = route(['db-2', 'db-3', 'db-4'], all);
    state.readers = ['db-3', 'db-4'];
    const moved = retire(reader, all);
    expect(moved.map((c) => c.config.host)).toEqual(Array(4).fill(host('db-2')));
    for (const _ of moved) login(reader, all);
    expect(spread(reader, ['db-3', 'db-4'])).toEqual([6, 6]);
  });

  /** 4/4/4, then db-4 goes down: its connections are cut and replaced on the others, its logins refused. */
  function db4Down(cooldownMs: number) {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const { reader, state } = route(['db-2', 'db-3', 'db-4'], all, cooldownMs);
    expect(reader.surplus()).toEqual([]);
    for (const connection of all.filter((c) => c.config.host === host('db-4'))) {
      all.splice(all.indexOf(connection), 1);
    }
    reader.failed(host('db-4'));
    all.push(...connections({ 'db-2': 2, 'db-3': 2 }));
    return { all, reader, state };
  }

  it('moves nothing to a reader whose last login failed while the topology still lists it (a failover)', () => {
    // Cooldown 0: it may be tried again at once, but no connection is moved there for it.
    const { all, reader } = db4Down(0);
    expect(reader.surplus()).toEqual([]);
    // A login there works again: it is a reader like the others, and gets its share.
    reader.succeeded(host('db-4'));
    rebalance(reader, all);
    expect(spread(reader, ['db-2', 'db-3', 'db-4'])).toEqual([4, 4, 4]);
  });

  it('gives a reader that failed and is listed again (recovered) its share', () => {
    const { all, reader, state } = db4Down(1000);
    expect(reader.surplus()).toEqual([]);
    state.readers = ['db-2', 'db-3']; // it left the topology while down
    expect(reader.surplus()).toEqual([]);
    state.readers = ['db-2', 'db-3', 'db-4']; // and is back
    rebalance(reader, all);
    expect(spread(reader, state.readers)).toEqual([4, 4, 4]);
  });

  it('keeps the connections it has on a reader whose new login failed', () => {
    const all = connections({ 'db-2': 4, 'db-3': 4, 'db-4': 4 });
    const { reader } = route(['db-2', 'db-3', 'db-4'], all, 0);
    expect(reader.surplus()).toEqual([]);
    reader.failed(host('db-4'));
    expect(reader.surplus()).toEqual([]);
  });

  it('moves the connections of a reader promoted to writer', () => {
    const all = connections({ 'db-2': 2, 'db-3': 2, 'db-4': 2 });
    const { reader, state } = route(['db-2', 'db-3', 'db-4'], all);
    state.readers = ['db-3', 'db-4'];
    rebalance(reader, all);
    expect(spread(reader, ['db-3', 'db-4'])).toEqual([3, 3]);
    expect(reader.connectionsByHost().get(host('db-2'))).toBeUndefined();
  });
});
