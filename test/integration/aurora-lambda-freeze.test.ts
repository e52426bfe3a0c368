/**
 * A Lambda execution environment frozen across an Aurora failover, as docs/lambda.md describes it:
 * its idle connection is dead when it thaws, validation on borrow replaces it, and with verifyWriter
 * (the default on a cluster endpoint) the replacement lands on the writer even while the cluster
 * endpoint's DNS still leads to the old writer; with topologyFailover, before the DNS moves. A freeze is the thread blocked (examples/lambda/freeze.ts):
 * the pool cannot see its socket close until the next invocation has started.
 */
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freezeProcess } from '../../examples/lambda/freeze.js';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import type { IamPool } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { poolFor } from '../helpers/pool-fixture.js';

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'aurora_lambda', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

/** The handler's work: a write, then which instance took it. */
async function invoke(pool: IamPool, id: number) {
  await pool.query('INSERT INTO items VALUES (?, ?)', [id, 'after a freeze']);
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro',
  );
  return rows[0] as { id: string; ro: number };
}

/** A module-scope pool as in examples/lambda/handler.ts, on the cluster endpoint. */
const lambdaPool = (extra: Parameters<typeof poolFor>[1] = {}) =>
  poolFor(fx, { host: emulator.cluster.endpoint.host, connectionLimit: 1, ...extra });

describe('a Lambda function frozen across a failover', () => {
  it('replaces its dead connection on the first invocation after the thaw and writes on the new writer', async () => {
    const pool = lambdaPool();
    try {
      const writer = emulator.cluster.topology().writer;
      expect(await invoke(pool, 501)).toEqual({ id: writer, ro: 0 });
      // The whole failover happens while the environment is frozen.
      const failover = emulator.cluster.failover({ promotionMs: 0, dnsLagMs: 0 });
      freezeProcess(700);
      expect(await invoke(pool, 502)).toEqual({ id: failover.to, ro: 0 });
      expect(pool.iam.stats()).toMatchObject({ deadOnBorrow: 1, connectionsOpened: 2 });
      await failover.completed;
    } finally {
      await pool.end();
    }
  });

  it('thawed while the cluster endpoint still leads to the old writer: verifyWriter keeps the write off it', async () => {
    const pool = lambdaPool();
    try {
      await invoke(pool, 511);
      const failover = emulator.cluster.failover({ promotionMs: 0, dnsLagMs: 1500 });
      freezeProcess(700);
      // New logins land on the old writer (a reader now) until the DNS lag is over; none is handed out.
      expect(await invoke(pool, 512)).toEqual({ id: failover.to, ro: 0 });
      expect(pool.iam.stats().deadOnBorrow).toBe(1);
      expect(pool.iam.stats().wrongRoleRetired).toBeGreaterThanOrEqual(1);
      await failover.completed;
    } finally {
      await pool.end();
    }
  });

  it('thawed during the DNS lag with topologyFailover: writes on the new writer before the cluster endpoint moves', async () => {
    const pool = lambdaPool({ topologyFailover: { pollIntervalMs: 50 } });
    try {
      await invoke(pool, 531);
      const deadline = Date.now() + 10_000;
      while ((pool.iam.stats().topology?.instances.length ?? 0) < 3 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const failover = emulator.cluster.failover({ promotionMs: 0, dnsLagMs: 4000 });
      try {
        freezeProcess(700);
        expect(await invoke(pool, 532)).toEqual({ id: failover.to, ro: 0 });
        expect(emulator.cluster.topology().clusterEndpointTarget).toBe(failover.from);
        // Other signs of the failover (connections found dead) may start more searches; each finds
        // the same writer and moves nothing.
        const settled = Date.now() + 5000;
        while (pool.iam.stats().topology?.searching && Date.now() < settled) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(pool.iam.stats().topology).toMatchObject({ failovers: 1, searching: false });
      } finally {
        await failover.completed;
      }
    } finally {
      await pool.end();
    }
  });

  it('without verifyWriter the same thaw writes to the old writer and fails with 1290', async () => {
    const pool = lambdaPool({ verifyWriter: false });
    try {
      await invoke(pool, 521);
      const failover = emulator.cluster.failover({ promotionMs: 0, dnsLagMs: 1500 });
      try {
        freezeProcess(700);
        const error = await invoke(pool, 522).catch((e: unknown) => e);
        expect(error).toMatchObject({ errno: 1290 });
      } finally {
        await failover.completed;
      }
    } finally {
      await pool.end();
    }
  });
});
