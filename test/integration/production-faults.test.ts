import { createServer, type Socket } from 'node:net';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamAcquireTimeoutError, IamAuthError, IamConnectError, type IamPool } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, loginsSettled, poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

/** What a query on a connection that the server closed under it reports: it may have run, so it is not retried. */
const CONNECTION_LOST = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);

interface Outcome {
  /** The phase the query started in, and the one it ended in. */
  startedIn: string;
  endedIn: string;
  error?: unknown;
}

/**
 * `callers` loops of `SELECT ?` against the pool (each holding its connection `holdSeconds`), each
 * logging every outcome with the test's phase.
 */
function runCallers(pool: IamPool, callers: number, holdSeconds = 0) {
  let phase = 'warm-up';
  let stopped = false;
  const logs: Outcome[][] = Array.from({ length: callers }, () => []);
  const done = Promise.all(
    logs.map(async (log, caller) => {
      while (!stopped) {
        const startedIn = phase;
        try {
          const [rows] = await pool.query<Row[]>(
            holdSeconds > 0 ? `SELECT ? AS caller, SLEEP(${holdSeconds}) AS held` : 'SELECT ? AS caller',
            [caller],
          );
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
    // Queries that hold their connection, so the 50 callers need all 20 connections back.
    const load = runCallers(pool, 50, 0.05);
    try {
      await eventually(() => load.allSucceeded(3, 'warm-up'), 'every caller to run 3 queries');
      await loginsSettled(pool);
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
      expect(stats.authRetries).toBe(atCut.authRetries);
      // Nothing leaked: the server holds exactly the pool's connections.
      await loginsSettled(pool);
      expect(pool.iam.stats().connections.waiting).toBe(0);
      expect(fx.emulator.stats().liveSessions).toBe(pool.iam.stats().connections.total);
    } finally {
      load.stop();
      fx.emulator.faults.reset();
      await pool.end();
    }
  });

  // Fails on the code before 2026-12, which failed every borrow at once with RDS_IAM_CONNECT_FAILED
  // while the endpoint refused connections (112-126 failed calls per Aurora failover).
  it('callers wait out an outage shorter than their acquire timeout: only queries cut mid-flight fail', async () => {
    const pool = poolFor(fx, { connectionLimit: 10 });
    const load = runCallers(pool, 50);
    try {
      await eventually(() => load.allSucceeded(3, 'warm-up'), 'every caller to run 3 queries');
      const atCut = pool.iam.stats();

      load.setPhase('outage');
      fx.emulator.faults.stopAccepting();
      fx.emulator.faults.dropAllConnections();
      // Long enough for every caller to be waiting, well inside acquireTimeoutMs (10 s).
      await settle(1500);
      const during = pool.iam.stats();
      load.setPhase('after');
      fx.emulator.faults.resumeAccepting();
      await eventually(() => load.allSucceeded(3, 'after'), 'every caller to succeed again after the outage');
      load.stop();
      await load.done;

      // The only failures: queries running on a connection when the server cut it (they may have run).
      const outageErrors = errorsOf(load.logs, 'outage');
      expect(outageErrors.every((o) => isConnectionLost(o.error))).toBe(true);
      expect(outageErrors.length).toBeLessThanOrEqual(atCut.connections.total);
      expect(errorsOf(load.logs, 'after')).toEqual([]);
      // Every caller was waiting when the outage ended (none had given up).
      expect(during.connections.waiting).toBe(50);
      const stats = pool.iam.stats();
      expect(stats.acquireTimeouts).toBe(0);
      expect(stats.transientRetries - atCut.transientRetries).toBeGreaterThan(0);
      await loginsSettled(pool);
      expect(fx.emulator.stats().liveSessions).toBe(pool.iam.stats().connections.total);
    } finally {
      load.stop();
      fx.emulator.faults.reset();
      await pool.end();
    }
  });

  it('a caller whose deadline passes during an outage gets IamAcquireTimeoutError with the outage as its cause', async () => {
    const pool = poolFor(fx, { acquireTimeoutMs: 600 });
    try {
      await pool.query('SELECT 1');
      fx.emulator.faults.stopAccepting();
      fx.emulator.faults.dropAllConnections();
      await settle();
      const startedAt = performance.now();
      const error = await pool.query('SELECT 1').catch((err: unknown) => err);
      // No earlier than its own deadline, whatever the attempts before it saw.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(590);
      expect(error).toBeInstanceOf(IamAcquireTimeoutError);
      const cause = (error as IamAcquireTimeoutError).cause;
      expect(cause).toBeInstanceOf(IamConnectError);
      // The endpoint worked before: the hint speaks of an outage, not of security groups.
      expect((cause as IamConnectError).hint).toMatch(/failover/);
      expect((cause as IamConnectError).hint).not.toMatch(/security groups/);
    } finally {
      fx.emulator.faults.reset();
      await pool.end();
    }
  });

  // Fails on the code before 2026-12: every waiting caller made its own attempts.
  it('probes a refusing endpoint one attempt at a time, however many callers wait', async () => {
    // Accepts TCP and closes at once: each connect attempt is one accepted socket, timestamped.
    const attempts: number[] = [];
    let open = 0;
    let mostOpen = 0;
    const sockets = new Set<Socket>();
    const refuser = createServer((socket) => {
      attempts.push(performance.now());
      open++;
      mostOpen = Math.max(mostOpen, open);
      sockets.add(socket);
      socket.on('close', () => {
        open--;
        sockets.delete(socket);
      });
      socket.on('error', () => {});
      setTimeout(() => socket.destroy(), 5);
    });
    await new Promise<void>((resolve) => refuser.listen(0, '127.0.0.1', resolve));
    const port = (refuser.address() as { port: number }).port;
    const pool = poolFor(fx, { connectPort: port, acquireTimeoutMs: 800, connectionLimit: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, () => pool.query('SELECT 1').catch((err: unknown) => err)),
      );
      expect(results.every((r) => r instanceof IamAcquireTimeoutError)).toBe(true);
      // The healthy path opened what the callers needed (the pool's 10) until the first failure;
      // after that, one probe at a time, each after a backoff of at least retry.minTimeoutMs (10 ms).
      const probes = attempts.slice(10);
      expect(probes.length).toBeGreaterThan(2);
      for (let i = 1; i < probes.length; i++) {
        expect((probes[i] as number) - (probes[i - 1] as number)).toBeGreaterThanOrEqual(9);
      }
      expect(attempts.length).toBeLessThan(10 + 800 / 9);
    } finally {
      await pool.end();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => refuser.close(() => resolve()));
    }
    expect(mostOpen).toBeLessThanOrEqual(10);
  });
});
