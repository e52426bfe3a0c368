/**
 * What a caller's options or an idle pool must not be able to do to the pool's Aurora logic:
 * reshape its own statements (rowsAsArray, nestTables, typeCast), or make its topology logins
 * outrun the login cap during a promotion. Through the emulator's Aurora cluster, against MariaDB.
 * Each test fails on the code before 2026-12 (see the comment on each).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, poolFor, settle } from '../helpers/pool-fixture.js';

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'aurora_robust', emulator: { cluster: { instances: 16 } } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

describe("the pool's own statements do not depend on the caller's result options", () => {
  // Before: every new connection failed the writer check until the acquire timeout (59 logins in
  // 3 s), and the topology learned instances named `undefined`.
  it.each([{ rowsAsArray: true }, { nestTables: true }, { typeCast: false }])(
    'with %o the writer check and the topology still read right',
    async (resultOptions) => {
      const pool = poolFor(fx, {
        host: emulator.cluster.endpoint.host,
        // Through the emulator's one port, which routes every endpoint name by TLS server name.
        topologyFailover: true,
        acquireTimeoutMs: 3000,
        ...resultOptions,
      });
      try {
        await pool.query('SELECT 1');
        await eventually(() => (pool.iam.stats().topology?.instances.length ?? 0) === 16, 'the topology');
        const { topology, connectionsOpened, wrongRoleRetired } = pool.iam.stats();
        expect(connectionsOpened).toBe(1);
        expect(wrongRoleRetired).toBe(0);
        expect(topology?.writer).toBe(emulator.cluster.instanceEndpoints[0]?.host);
        expect(topology?.instances.map((i) => i.host)).toEqual(
          emulator.cluster.instanceEndpoints.map((e) => e.host),
        );
      } finally {
        await pool.end();
      }
    },
  );
});

describe('topology logins stay under the login cap', () => {
  // Before: the topology's logins ignored maxLoginsPerSecond (an idle pool, 16 instances, cap 5/s:
  // 113 logins in a 4 s promotion).
  it('an idle pool searching through a 4 s promotion of a 16-instance cluster logs in at most 5 times a second', async () => {
    const pool = poolFor(fx, {
      host: emulator.cluster.endpoint.host,
      maxLoginsPerSecond: 5,
      topologyFailover: { pollIntervalMs: 50 },
    });
    try {
      await pool.query('SELECT 1');
      await eventually(() => (pool.iam.stats().topology?.instances.length ?? 0) === 16, 'the topology');
      await settle(1000); // the first read's turn is spent
      const before = emulator.stats().loginsAccepted;
      const failover = emulator.cluster.failover({ promotionMs: 4000, dnsLagMs: 0 });
      await failover.promoted;
      const logins = emulator.stats().loginsAccepted - before;
      await failover.completed;
      // 4 s at 5 a second, and one turn of slack for the window's edges.
      expect(logins).toBeLessThanOrEqual(4 * 5 + 1);
      expect(logins).toBeGreaterThan(0); // it did search
    } finally {
      await pool.end();
    }
  });
});
