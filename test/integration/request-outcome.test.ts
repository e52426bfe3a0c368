/**
 * Every failed request says whether it can have run (requestOutcome) and whether running it again
 * is safe and useful (isSafeToRetry), and withTransaction retries exactly what is known not to have
 * committed. Against the real MariaDB through the emulator: the connections are cut for real.
 */
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterEmulator } from '../../src/emulator/index.js';
import { isSafeToRetry, requestOutcome, withTransaction } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

let fx: EmulatorFixture;
let emulator: ClusterEmulator;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'request_outcome', emulator: { cluster: {} } });
  emulator = fx.emulator as ClusterEmulator;
});
afterAll(async () => {
  await fx?.teardown();
});

/** Cuts the session of `threadId` (the emulator's id, which the greeting carried) once it is busy. */
async function cutWhileBusy(threadId: number): Promise<void> {
  await settle(100);
  emulator.faults.dropConnection(threadId);
}

const writerPool = (extra = {}) =>
  poolFor(fx, { host: emulator.cluster.instanceEndpoints[0]!.host, topologyFailover: false, ...extra });

describe('requestOutcome and isSafeToRetry', () => {
  it('a statement in flight when its connection is lost: outcome unknown, not safe to retry', async () => {
    const pool = writerPool();
    try {
      const connection = await pool.getConnection();
      const running = connection.query('SELECT SLEEP(1.5)').catch((e: unknown) => e);
      await cutWhileBusy(connection.threadId);
      const error = await running;
      expect(error).toMatchObject({ fatal: true });
      expect(requestOutcome(error)).toBe('unknown');
      expect(isSafeToRetry(error)).toBe(false);

      // The next statement on the dead connection never leaves the client.
      const next = await connection.query('SELECT 1').catch((e: unknown) => e);
      expect(requestOutcome(next)).toBe('not-sent');
      expect(isSafeToRetry(next)).toBe(true);
      connection.release();
    } finally {
      await pool.end();
    }
  });

  it('a statement queued behind the one in flight is never called safe (mysql2 shares one error object)', async () => {
    const pool = writerPool();
    try {
      const connection = await pool.getConnection();
      const results = Promise.all([
        connection.query('SELECT SLEEP(1.5)').catch((e: unknown) => e),
        connection.query('SELECT 1').catch((e: unknown) => e),
      ]);
      await cutWhileBusy(connection.threadId);
      for (const error of await results) expect(isSafeToRetry(error)).toBe(false);
      connection.release();
    } finally {
      await pool.end();
    }
  });

  it('no connection within the acquire timeout: not sent, safe to retry', async () => {
    const pool = writerPool({ connectionLimit: 1, acquireTimeoutMs: 1500 });
    try {
      const held = await pool.getConnection();
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(requestOutcome(error)).toBe('not-sent');
      expect(isSafeToRetry(error)).toBe(true);
      held.release();
    } finally {
      await pool.end();
    }
  });

  it("a demoted writer's read-only error: answered, safe to retry on a new connection", async () => {
    const pool = poolFor(fx, { host: emulator.cluster.readerEndpoint.host });
    try {
      const error = await pool.query("INSERT INTO items VALUES (300, 'x')").catch((e: unknown) => e);
      expect(error).toMatchObject({ errno: 1290 });
      expect(requestOutcome(error)).toBe('answered');
      expect(isSafeToRetry(error)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('an error of the statement itself (a duplicate key): answered, not worth retrying', async () => {
    const pool = writerPool();
    try {
      const error = await pool.query("INSERT INTO items VALUES (1, 'dup')").catch((e: unknown) => e);
      expect(error).toMatchObject({ errno: 1062 });
      expect(requestOutcome(error)).toBe('answered');
      expect(isSafeToRetry(error)).toBe(false);
      expect(requestOutcome(new Error('the application'))).toBeUndefined();
    } finally {
      await pool.end();
    }
  });
});

describe('withTransaction', () => {
  it('runs the body again on a new connection when the connection is lost before COMMIT, and commits once', async () => {
    const pool = writerPool();
    let attempts = 0;
    try {
      const threads: number[] = [];
      const committed = withTransaction(pool, async (connection) => {
        attempts++;
        threads.push(connection.threadId);
        await connection.query("INSERT INTO items VALUES (400, 'once')");
        if (attempts === 1) {
          void cutWhileBusy(connection.threadId);
          await connection.query('SELECT SLEEP(1.5)');
        }
        return 'done';
      });
      expect(await committed).toBe('done');
      expect(attempts).toBe(2);
      expect(threads[1]).not.toBe(threads[0]);
      const [rows] = await pool.query<Row[]>('SELECT COUNT(*) AS n FROM items WHERE id = 400');
      expect(rows[0]?.n).toBe(1);
    } finally {
      await pool.query('DELETE FROM items WHERE id = 400');
      await pool.end();
    }
  });

  it("rolls back and throws the body's own error without running it again", async () => {
    const pool = writerPool();
    let attempts = 0;
    try {
      const error = await withTransaction(pool, async (connection) => {
        attempts++;
        await connection.query("INSERT INTO items VALUES (401, 'never')");
        throw new Error('the application changed its mind');
      }).catch((e: unknown) => e);
      expect((error as Error).message).toBe('the application changed its mind');
      expect(attempts).toBe(1);
      const [rows] = await pool.query<Row[]>('SELECT COUNT(*) AS n FROM items WHERE id = 401');
      expect(rows[0]?.n).toBe(0);
      await eventually(() => pool.iam.stats().connections.borrowed === 0, 'the connection to be back');
    } finally {
      await pool.end();
    }
  });
});
