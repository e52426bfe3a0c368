import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamAuthError, IamConnectError, type IamPool } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

/** What a query on a connection that the server closed under it reports: it may have run, so it is not retried. */
const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

interface Outcome {
  /** The phase the query started in, and the one it ended in. */
  startedIn: string;
  endedIn: string;
  error?: unknown;
}

/** `callers` loops of `SELECT ?` against the pool, each logging every outcome with the test's phase. */
function runCallers(pool: IamPool, callers: number) {
  let phase = 'warm-up';
  let stopped = false;
  const logs: Outcome[][] = Array.from({ length: callers }, () => []);
  const done = Promise.all(
    logs.map(async (log, caller) => {
      while (!stopped) {
        const startedIn = phase;
        try {
          const [rows] = await pool.query<Row[]>('SELECT ? AS caller', [caller]);
          if (rows[0]?.caller !== caller) throw new Error(`caller ${caller} got ${rows[0]?.caller}`);
          log.push({ startedIn, endedIn: phase });
        } catch (error) {
          log.push({ startedIn, endedIn: phase, error });
          await settle(10); // what an application's own backoff would do
        }
      }
    }),
  );
  return {
    logs,
    done,
    setPhase(next: string) {
      phase = next;
    },
    stop() {
      stopped = true;
    },
    /** Every caller has at least `n` successes among queries started in `phase`. */
    allSucceeded(n: number, inPhase: string) {
      return logs.every((log) => log.filter((o) => !o.error && o.startedIn === inPhase).length >= n);
    },
  };
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`still waiting for: ${what}`);
    await settle(25);
  }
}

const errorsOf = (logs: Outcome[][], inPhase: string) =>
  logs.flat().filter((o) => o.error !== undefined && o.startedIn === inPhase);

/** Errors of queries that were running on a connection when the server cut it. */
const isConnectionLost = (error: unknown) =>
  !(error instanceof IamAuthError) && CONNECTION_LOST.has(String((error as { code?: unknown }).code));

describe('production faults: 50 callers through the emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    // Own database per file, and per run: another engineer's run of this same file must not drop it.
    fx = await createEmulatorFixture({ name: `production_faults_${process.pid}` });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('recovers every caller after the server kills every connection, with logins under the rate cap', async () => {
    // More connections than the emulator admits in a second: reconnecting them all at once would
    // be refused.
    const pool = poolFor(fx, { connectionLimit: 20, maxLoginsPerSecond: 10 });
    const load = runCallers(pool, 50);
    try {
      await eventually(() => load.allSucceeded(3, 'warm-up'), 'every caller to run 3 queries');
      // The emulator refuses logins past 12 a second; the pool paces them at 10 (the 20% margin
      // absorbs the scheduling jitter between the pool's pacing and the emulator's count).
      fx.emulator.faults.capLoginsPerSecond(12);
      const atCut = pool.iam.stats();
      const serverBefore = fx.emulator.stats();
      const startedAt = Date.now();

      load.setPhase('recovery');
      fx.emulator.faults.dropAllConnections();
      await eventually(() => load.allSucceeded(5, 'recovery'), 'every caller to run 5 queries after the cut');
      const recoveredAfterMs = Date.now() - startedAt;
      load.setPhase('after');
      await eventually(() => load.allSucceeded(3, 'after'), 'every caller to keep succeeding');
      load.stop();
      await load.done; // no caller is left waiting on a promise

      const stats = pool.iam.stats();
      const server = fx.emulator.stats();
      const logins = server.loginsAccepted - serverBefore.loginsAccepted;
      const rateLimited =
        (server.loginsRejected['rate-limited'] ?? 0) - (serverBefore.loginsRejected['rate-limited'] ?? 0);
      console.log(
        `kill-all recovery: ${atCut.connections.total} connections killed; ${logins} logins in ${recoveredAfterMs} ms ` +
          `(pool cap 10/s, emulator cap 12/s, ${rateLimited} refused as rate-limited); ` +
          `${errorsOf(load.logs, 'recovery').length} queries failed with the connection they ran on`,
      );

      // Only queries that were running on a killed connection failed, at most one per connection.
      const recoveryErrors = errorsOf(load.logs, 'recovery');
      expect(recoveryErrors.every((o) => isConnectionLost(o.error))).toBe(true);
      expect(recoveryErrors.length).toBeLessThanOrEqual(atCut.connections.total);
      // After each caller's first success since the cut, nothing failed again.
      for (const log of load.logs) {
        const firstOk = log.findIndex((o) => o.startedIn !== 'warm-up' && !o.error);
        expect(log.slice(firstOk).filter((o) => o.error)).toEqual([]);
      }
      expect(errorsOf(load.logs, 'after')).toEqual([]);
      // The reconnects stayed under the cap: the server refused none of them.
      expect(rateLimited).toBe(0);
      expect(logins).toBe(stats.connectionsOpened - atCut.connectionsOpened);
      expect(logins).toBeLessThanOrEqual(20);
      expect(stats.loginsDelayed - atCut.loginsDelayed).toBeGreaterThan(0);
      expect(stats.authRetries).toBe(atCut.authRetries);
      // Nothing leaked: the server holds exactly the pool's connections.
      expect(stats.connections.waiting).toBe(0);
      expect(fx.emulator.stats().liveSessions).toBe(stats.connections.total);
    } finally {
      load.stop();
      fx.emulator.faults.reset();
      await pool.end();
    }
  });

  it('fails fast with typed errors while the endpoint refuses connections, and recovers on its own', async () => {
    const pool = poolFor(fx, { connectionLimit: 10 });
    const load = runCallers(pool, 50);
    try {
      await eventually(() => load.allSucceeded(3, 'warm-up'), 'every caller to run 3 queries');
      const atCut = pool.iam.stats();

      load.setPhase('outage');
      const outageStartedAt = Date.now();
      fx.emulator.faults.stopAccepting();
      fx.emulator.faults.dropAllConnections();
      await settle(2000);
      // The outage lasts until every caller has had a query start and fail inside it: a caller
      // that hangs keeps the endpoint down and the test times out.
      await eventually(
        () =>
          load.logs.every((log) =>
            log.some((o) => o.error && o.startedIn === 'outage' && o.endedIn === 'outage'),
          ),
        'every caller to get an error while the endpoint refuses connections',
      );
      const outageMs = Date.now() - outageStartedAt;
      load.setPhase('after');
      fx.emulator.faults.resumeAccepting();
      await eventually(() => load.allSucceeded(3, 'after'), 'every caller to succeed again after the outage');
      load.stop();
      await load.done;

      const outageErrors = errorsOf(load.logs, 'outage');
      const lost = outageErrors.filter((o) => isConnectionLost(o.error));
      const typed = outageErrors.filter((o) => o.error instanceof IamAuthError);
      console.log(
        `${outageMs} ms outage: ${outageErrors.length} failed queries (${typed.length} typed IamConnectError, ` +
          `${lost.length} lost with the connection they ran on); errors per caller: min ` +
          `${Math.min(...load.logs.map((l) => l.filter((o) => o.error && o.startedIn === 'outage').length))}`,
      );
      // Queries running when the connections were cut fail with the driver's error (they may have
      // run); every other failure is our typed connect error.
      expect(lost.length).toBeLessThanOrEqual(atCut.connections.total);
      expect(typed.length + lost.length).toBe(outageErrors.length);
      for (const { error } of typed) {
        expect(error).toBeInstanceOf(IamConnectError);
        expect(error).toMatchObject({ code: 'RDS_IAM_CONNECT_FAILED', step: 'connect' });
      }
      // Every caller heard about the outage while it lasted, rather than hanging through it.
      for (const log of load.logs) {
        expect(
          log.filter((o) => o.error && o.startedIn === 'outage' && o.endedIn === 'outage').length,
        ).toBeGreaterThanOrEqual(1);
      }
      expect(errorsOf(load.logs, 'after')).toEqual([]);
      const stats = pool.iam.stats();
      expect(stats.acquireTimeouts).toBe(0);
      expect(stats.connections.waiting).toBe(0);
      expect(fx.emulator.stats().liveSessions).toBe(stats.connections.total);
    } finally {
      load.stop();
      fx.emulator.faults.reset();
      await pool.end();
    }
  });

  it('shares the retry budget while the endpoint is down: one attempt per borrow after a full failed cycle', async () => {
    const pool = poolFor(fx, { retry: { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 10 } });
    try {
      await pool.query('SELECT 1');
      fx.emulator.faults.stopAccepting();
      fx.emulator.faults.dropAllConnections();
      await settle();
      const retriesOf = async () => {
        const before = pool.iam.stats().transientRetries;
        const error = await pool.query('SELECT 1').catch((err: unknown) => err);
        expect(error).toBeInstanceOf(IamConnectError);
        return pool.iam.stats().transientRetries - before;
      };
      expect(await retriesOf()).toBe(3); // the first borrow finds out: four attempts
      expect(await retriesOf()).toBe(1); // later ones try once more and fail at once
      expect(await retriesOf()).toBe(1);
      fx.emulator.faults.resumeAccepting();
      await pool.query('SELECT 1'); // a login succeeds: the endpoint is up again
      fx.emulator.faults.stopAccepting();
      fx.emulator.faults.dropAllConnections();
      await settle();
      expect(await retriesOf()).toBe(3); // a new outage gets a full cycle again
    } finally {
      fx.emulator.faults.reset();
      await pool.end();
    }
  });
});
