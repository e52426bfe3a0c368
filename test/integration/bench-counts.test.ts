/**
 * The counts behind the benchmark's claims (docs/performance.md), asserted on every `npm test`.
 * The timings themselves stay in `npm run bench`: they depend on the machine, these do not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedLoop, fillPool, loginBurst } from '../../bench/lib/workload.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { countingCredentials, poolFor } from '../helpers/pool-fixture.js';

describe('benchmark counts through the emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    // Per process: other engineers' `npm test` runs this file too, and the fixture drops and
    // recreates its backend user, which would refuse our emulator's backend logins mid-test.
    fx = await createEmulatorFixture({ name: `bench_counts_${process.pid}` });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('logs in 1 000 new connections within one refresh window with one signing and one credential call', async () => {
    const credentials = countingCredentials();
    const before = fx.emulator.stats();
    // No login cap: it would space 1 000 logins over 50 s, and pacing is not what this counts.
    const pool = poolFor(fx, { credentials, connectionLimit: 50, maxLoginsPerSecond: 0 });
    try {
      await loginBurst(pool, 1000, 50);
      expect(pool.iam.stats()).toMatchObject({
        connectionsOpened: 1000,
        tokensSigned: 1,
        credentialRequests: 1,
        cacheHits: 999,
        authRetries: 0,
        transientRetries: 0,
      });
      expect(credentials.calls).toBe(1);
      const after = fx.emulator.stats();
      expect(after.loginsAccepted - before.loginsAccepted).toBe(1000);
      expect(after.distinctTokens - before.distinctTokens).toBe(1);
    } finally {
      await pool.end();
    }
  }, 60_000);

  it('runs 2 000 queries at concurrency 64 over 16 open connections without another login or signing', async () => {
    const credentials = countingCredentials();
    const pool = poolFor(fx, { credentials, connectionLimit: 16 });
    try {
      await fillPool(pool, 16);
      const opened = fx.emulator.stats().loginsAccepted;
      expect(pool.iam.stats()).toMatchObject({ connectionsOpened: 16, tokensSigned: 1 });

      let answered = 0;
      await closedLoop(2000, 64, async () => {
        await pool.query('SELECT 1 AS one');
        answered++;
      });
      expect(answered).toBe(2000);
      expect(pool.iam.stats()).toMatchObject({
        connectionsOpened: 16,
        tokensSigned: 1,
        credentialRequests: 1,
        cacheHits: 15,
      });
      expect(fx.emulator.stats().loginsAccepted).toBe(opened);
    } finally {
      await pool.end();
    }
  });
});
