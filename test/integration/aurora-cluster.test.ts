/**
 * createIamCluster / createIamReaderPool against the emulator's Aurora cluster (1 writer, 3
 * readers): reads spread evenly over the reader instances and follow Auto Scaling, never land on
 * the writer unless the fallback is on, and both pools share the login cap and the tokens.
 */
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import {
  createIamCluster,
  createIamPool,
  createIamReaderPool,
  type IamClusterOptions,
  type IamPool,
} from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { iamOptionsFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({
    name: 'aurora_cluster',
    emulator: { cluster: { instances: 4, readerRecordTtlMs: 5000 } },
  });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

/** Options reaching every endpoint at its own port, as DNS would on AWS. */
function clusterOptions(extra: Partial<IamClusterOptions> = {}): IamClusterOptions {
  const { connectHost: _h, connectPort: _p, ...base } = iamOptionsFor(fx);
  return {
    ...base,
    host: emulator.cluster.endpoint.host,
    connectTo: (host) => ({ host: '127.0.0.1', port: emulator.cluster.endpointFor(host)?.port ?? 1 }),
    retry: { retries: 3, minTimeoutMs: 10, maxTimeoutMs: 100 },
    topologyFailover: { refreshIntervalMs: 1000, pollIntervalMs: 50 },
    ...extra,
  };
}

const readerIds = () =>
  emulator.cluster
    .topology()
    .instances.filter((i) => i.role === 'reader' && i.available)
    .map((i) => i.id);

/** `n` reads at once through `pool`, each holding its connection for `seconds`; the instance ids they ran on. */
async function readsOn(pool: IamPool, n: number, seconds = 0.3): Promise<string[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const connection = await pool.getConnection();
      try {
        const [rows] = await connection.query<Row[]>('SELECT @@aurora_server_id AS id');
        await connection.query(`SELECT SLEEP(${seconds})`);
        return String(rows[0]?.id);
      } finally {
        connection.release();
      }
    }),
  );
}

function countBy(ids: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}

describe('createIamCluster', () => {
  it('spreads 12 reader connections 4/4/4 over 3 readers, where the reader endpoint would pile them up', async () => {
    const cluster = createIamCluster(clusterOptions({ connectionLimit: 12, maxLoginsPerSecond: 0 }));
    try {
      const ids = await readsOn(cluster.reader, 12, 0.5);
      const counts = countBy(ids);
      expect(Object.keys(counts).sort()).toEqual(readerIds().sort());
      expect(Math.max(...Object.values(counts)) - Math.min(...Object.values(counts))).toBeLessThanOrEqual(1);
      const byInstance = Object.values(cluster.stats().reader.connectionsByInstance ?? {});
      expect(byInstance).toEqual([4, 4, 4]);
      // The writer pool writes on the writer; the reader pool refuses writes everywhere.
      const [rows] = await cluster.writer.query<Row[]>(
        'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
      );
      expect(rows[0]).toMatchObject({ ro: 0 });
      await expect(cluster.reader.query("INSERT INTO items VALUES (500, 'no')")).rejects.toMatchObject({
        errno: 1290,
      });
    } finally {
      await cluster.end();
    }
    // The same reads through a plain pool on the reader endpoint: its DNS record names one reader
    // for 5 s, so the pool's connections pile up there.
    const plain = createIamPool({
      ...clusterOptions({ connectionLimit: 12, maxLoginsPerSecond: 0, topologyFailover: false }),
      host: emulator.cluster.readerEndpoint.host,
    });
    try {
      const counts = countBy(await readsOn(plain, 12, 0.5));
      expect(Math.max(...Object.values(counts))).toBeGreaterThan(4);
    } finally {
      await plain.end();
    }
  });

  it('gives a reader added by Auto Scaling its share, and loses no read when a reader is removed', async () => {
    const cluster = createIamCluster(clusterOptions({ connectionLimit: 8, maxLoginsPerSecond: 0 }));
    let added: string | undefined;
    try {
      await readsOn(cluster.reader, 8);
      const endpoint = await emulator.cluster.addReader();
      added = emulator.cluster.topology().instances.find((i) => i.host === endpoint.host)?.id;
      // Under a steady read load, within the refresh interval (1 s here) plus a few seconds, the new
      // reader carries its share: the readers above their share give up connections, and the next
      // logins go to the reader with the fewest.
      const startedAt = Date.now();
      let ids: string[] = [];
      while (Date.now() - startedAt < 6000) {
        ids = await readsOn(cluster.reader, 8, 0.2);
        const counts = countBy(ids);
        if ((counts[added as string] ?? 0) >= 2) break;
      }
      expect(countBy(ids)[added as string]).toBeGreaterThanOrEqual(2);

      // Removed while idle connections sit on it: the next reads all succeed, elsewhere.
      emulator.cluster.removeReader(added as string);
      await settle(100); // its connections' sockets close
      const after = await readsOn(cluster.reader, 8);
      expect(after).not.toContain(added);
      expect(cluster.stats().reader.acquireTimeouts).toBe(0);
    } finally {
      await cluster.end();
    }
  });

  it('shares one login cap and one token per endpoint between its two pools', async () => {
    const before = emulator.stats().loginsAccepted;
    const cluster = createIamCluster(clusterOptions({ connectionLimit: 6, maxLoginsPerSecond: 5 }));
    const signed: string[] = [];
    cluster.writer.iam.on('tokenSigned', (info) => signed.push(info.hostname));
    cluster.reader.iam.on('tokenSigned', (info) => signed.push(info.hostname));
    try {
      const started = Date.now();
      await Promise.all([readsOn(cluster.reader, 6, 0.1), readsOn(cluster.writer, 6, 0.1)]);
      const logins = emulator.stats().loginsAccepted - before;
      const seconds = (Date.now() - started) / 1000;
      // Both pools together, and the topology's own reads: at most 5 a second (+1 for the window's edge).
      expect(logins).toBeLessThanOrEqual(Math.ceil(seconds * 5) + 1);
      // One signing per endpoint name (the cluster endpoint, each reader's), whichever pool asked first.
      expect(signed.length).toBeGreaterThanOrEqual(2);
      expect(new Set(signed).size).toBe(signed.length);
    } finally {
      await cluster.end();
    }
  });
});

describe('createIamReaderPool with no reader available', () => {
  it('without the fallback, reads wait for a reader and never touch the writer', async () => {
    const pool = createIamReaderPool(
      clusterOptions({ acquireTimeoutMs: 800, reader: { fallbackToWriter: false } }),
    );
    const failed = readerIds();
    try {
      await readsOn(pool, 1);
      for (const id of failed) emulator.cluster.failReader(id, { outage: 'refuse' });
      await settle(300);
      const error = await pool.query('SELECT @@aurora_server_id AS id').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'RDS_IAM_ACQUIRE_TIMEOUT' });
      expect(pool.iam.stats().connectionsByInstance?.[emulator.cluster.instanceEndpoints[0]!.host] ?? 0).toBe(
        0,
      );
    } finally {
      for (const id of failed) emulator.cluster.recoverReader(id);
      await pool.end();
    }
  });

  it('with the fallback (the default), reads go to the writer over read-only sessions', async () => {
    const pool = createIamReaderPool(clusterOptions({ acquireTimeoutMs: 3000 }));
    const failed = readerIds();
    try {
      for (const id of failed) emulator.cluster.failReader(id, { outage: 'refuse' });
      const [rows] = await pool.query<Row[]>('SELECT @@aurora_server_id AS id');
      expect(rows[0]?.id).toBe(emulator.cluster.topology().writer);
      // Writes are refused there too: the session is read-only.
      await expect(pool.query("INSERT INTO items VALUES (501, 'no')")).rejects.toMatchObject({ errno: 1792 });
    } finally {
      for (const id of failed) emulator.cluster.recoverReader(id);
      await pool.end();
    }
  });
});
