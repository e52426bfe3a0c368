/**
 * Shared by the adapters-*-replicas.test.ts files: an emulated Aurora cluster (1 writer, 3 readers),
 * options that reach each of its endpoints, and what the emulator counts per instance, so a test can
 * say where an ORM's reads and writes ran.
 */
import type { ClusterEmulator } from '../../src/emulator/index.js';
import type { IamClusterOptions } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { iamOptionsFor } from '../helpers/pool-fixture.js';

export interface ClusterFixture {
  fx: EmulatorFixture;
  emulator: ClusterEmulator;
  /** The instance id of the writer. */
  writer(): string;
  /** The ids of the readers that are up. */
  readers(): string[];
  /** Statements each instance has run so far (COM_QUERY and COM_STMT_EXECUTE), by instance id. */
  queries(): Record<string, number>;
  /** `CURRENT_USER()` on the writer: the backend account the IAM user maps to. */
  writerAccount: string;
  /** `CURRENT_USER()` on a reader: the read-only account the emulator made for that backend account. */
  readerAccount: string;
  teardown(): Promise<void>;
}

/** Starts an emulated Aurora cluster with 4 instances (1 writer, 3 readers) in front of MariaDB. */
export async function startCluster(name: string): Promise<ClusterFixture> {
  const fx = await createEmulatorFixture({ name, emulator: { cluster: { instances: 4 } } });
  const emulator = fx.emulator as ClusterEmulator;
  const instances = () => emulator.cluster.topology().instances;
  const backendUser = Object.values(fx.backendUsers)[0];
  const account = emulator.cluster.readerAccounts.find((a) => a.backendUser === backendUser);
  return {
    fx,
    emulator,
    writer: () => emulator.cluster.topology().writer as string,
    readers: () =>
      instances()
        .filter((i) => i.role === 'reader' && i.available)
        .map((i) => i.id),
    queries: () => Object.fromEntries(instances().map((i) => [i.id, i.queries])),
    writerAccount: `${backendUser}@%`,
    readerAccount: `${account?.user}@${account?.host}`,
    teardown: () => fx.teardown(),
  };
}

/**
 * Cluster options for the fixture: the cluster endpoint, every endpoint name reached at its own
 * emulator port (as DNS would on AWS), short retries, and a topology read once at start (a refresh
 * every minute), so the only statements the writer runs in a test are the test's own.
 */
export function clusterOptionsFor(
  c: ClusterFixture,
  extra: Partial<IamClusterOptions> = {},
): IamClusterOptions {
  const { connectHost: _h, connectPort: _p, ...base } = iamOptionsFor(c.fx);
  return {
    ...base,
    host: c.emulator.cluster.endpoint.host,
    connectTo: (host) => ({ host: '127.0.0.1', port: c.emulator.cluster.endpointFor(host)?.port ?? 1 }),
    retry: { retries: 3, minTimeoutMs: 10, maxTimeoutMs: 100 },
    topologyFailover: { refreshIntervalMs: 60_000, pollIntervalMs: 50 },
    maxLoginsPerSecond: 0,
    ...extra,
  };
}

/** How many statements each instance ran between two `queries()` snapshots (instances that ran none left out). */
export function ranSince(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const ran: Record<string, number> = {};
  for (const [id, n] of Object.entries(after)) {
    const delta = n - (before[id] ?? 0);
    if (delta > 0) ran[id] = delta;
  }
  return ran;
}

/** The spread of a count per instance: the largest minus the smallest. */
export function spread(counts: Record<string, number>): number {
  const values = Object.values(counts);
  return Math.max(...values) - Math.min(...values);
}
