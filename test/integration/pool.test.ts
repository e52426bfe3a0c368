import { inspect } from 'node:util';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamAuthError, IamLoginError, IamTlsError } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture, TEST_KEY } from '../helpers/emulator-harness.js';
import {
  countingCredentials,
  loginsSettled,
  movableClock,
  poolFor,
  settle,
} from '../helpers/pool-fixture.js';

const MIN = 60_000;
type Row = RowDataPacket & Record<string, unknown>;

/** Token-shaped text that must never appear in an error, event or inspected object. */
const TOKEN_SHAPED = /X-Amz-(Signature|Security-Token|Credential)|[0-9a-f]{64}/;

describe('createIamPool through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'pool_core' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('runs 200 queries over at most 20 connections with one credential call and one signing', async () => {
    const credentials = countingCredentials();
    const before = fx.emulator.stats();
    const pool = poolFor(fx, { credentials, connectionLimit: 20 });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pool.query<Row[]>('SELECT ? AS i, COUNT(*) AS n FROM items', [i]),
        ),
      );
      expect(results.map(([rows]) => rows[0]?.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
      await loginsSettled(pool);
      const stats = pool.iam.stats();
      expect(credentials.calls).toBe(1);
      expect(stats.tokensSigned).toBe(1);
      // As many logins as callers had to wait for (released connections serve the queue meanwhile).
      expect(stats.connectionsOpened).toBeGreaterThanOrEqual(2);
      expect(stats.connectionsOpened).toBeLessThanOrEqual(20);
      expect(stats.cacheHits).toBe(stats.connectionsOpened - 1);
      const after = fx.emulator.stats();
      expect(after.loginsAccepted - before.loginsAccepted).toBe(stats.connectionsOpened);
      expect(after.distinctTokens - before.distinctTokens).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('signs once more after 15 minutes, not once per new connection', async () => {
    const clock = movableClock();
    const pool = poolFor(fx, { clock: clock.now, connectionLimit: 5 });
    try {
      // Queries that hold their connection until all five logins had their turn.
      await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT SLEEP(0.3)')));
      expect(pool.iam.stats()).toMatchObject({ tokensSigned: 1, connectionsOpened: 5 });

      clock.advance(16 * MIN, fx);
      fx.emulator.faults.dropAllConnections();
      await settle();
      await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT SLEEP(0.3)')));
      expect(pool.iam.stats()).toMatchObject({ tokensSigned: 2, connectionsOpened: 10, authRetries: 0 });
    } finally {
      await pool.end();
      fx.emulator.faults.reset();
    }
  });

  it('never uses a token past the expiry of the credentials that signed it', async () => {
    const clock = movableClock();
    const start = Date.now();
    // Short-lived session credentials, rotated every 2 minutes; the emulator knows their expiry.
    const keys = [1, 2, 3].map((n) => ({
      accessKeyId: `ASIAROTATING000${n}`,
      secretAccessKey: `rotating-secret-${n}-not-real`,
      sessionToken: `rotating-session-${n}-not-real`,
      expiration: new Date(start + n * 2 * MIN),
    }));
    const shortLived = await createEmulatorFixture({ name: 'pool_short_creds', emulator: { keys } });
    const credentials = countingCredentials(() => {
      const current = keys.find((k) => k.expiration.getTime() > clock.now() + 10_000);
      if (!current) throw new Error('test ran out of keys');
      return current;
    });
    const signed: Array<{ signedAt: Date; expiresAt: Date }> = [];
    const pool = poolFor(shortLived, { credentials, clock: clock.now, connectionLimit: 3 });
    pool.iam.on('tokenSigned', (info) => signed.push(info));
    try {
      await Promise.all(Array.from({ length: 6 }, () => pool.query('SELECT 1')));
      clock.advance(3 * MIN, shortLived);
      shortLived.emulator.faults.dropAllConnections();
      await settle();
      await Promise.all(Array.from({ length: 6 }, () => pool.query('SELECT 1')));

      expect(signed).toHaveLength(2);
      expect(signed[0]?.expiresAt.getTime()).toBe(keys[0]?.expiration.getTime());
      expect(signed[1]?.expiresAt.getTime()).toBe(keys[1]?.expiration.getTime());
      expect(shortLived.emulator.stats().loginsRejected).toEqual({});
      expect(pool.iam.stats().authRetries).toBe(0);
    } finally {
      await pool.end();
      await shortLived.teardown();
    }
  });

  it('rides out 2 refused logins with fresh tokens and returns the rows', async () => {
    const pool = poolFor(fx);
    const retries: string[] = [];
    pool.iam.on('retry', (r) => retries.push(r.reason));
    fx.emulator.faults.rejectNextLogins(2);
    try {
      const [rows] = await pool.query<Row[]>('SELECT name FROM items WHERE id = 1');
      expect(rows).toEqual([{ name: 'one' }]);
      expect(retries).toEqual(['auth-rejected', 'auth-rejected']);
      expect(pool.iam.stats()).toMatchObject({ authRetries: 2, connectionsOpened: 1 });
      expect(pool.iam.stats().tokensSigned).toBeGreaterThanOrEqual(2);
    } finally {
      await pool.end();
      fx.emulator.faults.reset();
    }
  });

  it('gives up at once on a user refused without being asked for a token, with a typed error that holds no token', async () => {
    const pool = poolFor(fx, {
      user: 'not_an_iam_user',
      retry: { retries: 2, minTimeoutMs: 5, maxTimeoutMs: 20 },
    });
    const before = fx.emulator.stats().loginsRejected['unknown-user'] ?? 0;
    try {
      const error = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(error).toBeInstanceOf(IamLoginError);
      const e = error as IamLoginError;
      expect(e).toBeInstanceOf(IamAuthError);
      expect(e.code).toBe('RDS_IAM_NOT_IAM_USER');
      expect(e.step).toBe('login');
      expect(e.errno).toBe(1045);
      expect(e.message).toContain("Access denied for user 'not_an_iam_user'");
      expect(e.hint).toMatch(/AWSAuthenticationPlugin/);
      // A fresh token cannot help a user that is never asked for one: one login, no retry.
      expect((fx.emulator.stats().loginsRejected['unknown-user'] ?? 0) - before).toBe(1);
      expect(pool.iam.stats().authRetries).toBe(0);
      for (const text of [
        e.message,
        e.stack,
        e.hint,
        inspect(e, { depth: 5 }),
        JSON.stringify(e),
        inspect(pool, { depth: 4 }),
      ]) {
        expect(text).not.toMatch(TOKEN_SHAPED);
      }
    } finally {
      await pool.end();
    }
  });

  it('refuses a server certificate from an untrusted CA before any token is signed or sent', async () => {
    const before = fx.emulator.stats();
    fx.emulator.faults.useUntrustedCertificate(true);
    const pool = poolFor(fx);
    try {
      const error = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(error).toBeInstanceOf(IamTlsError);
      expect((error as IamTlsError).code).toBe('RDS_IAM_TLS_VERIFY_FAILED');
      expect(pool.iam.stats()).toMatchObject({ tokensSigned: 0, authRetries: 0, transientRetries: 0 });
      const after = fx.emulator.stats();
      expect(after.loginsAccepted).toBe(before.loginsAccepted);
      expect(after.loginsRejected).toEqual(before.loginsRejected);
    } finally {
      await pool.end();
      fx.emulator.faults.reset();
    }
  });

  it('trusts the bundled RDS CAs by default, so the emulator certificate is refused without ssl.ca', async () => {
    const pool = poolFor(fx, { ssl: {} });
    try {
      const error = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(error).toBeInstanceOf(IamTlsError);
      expect(pool.iam.stats().tokensSigned).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('uses the Node credential provider chain when no credentials are given', async () => {
    const saved = { ...process.env };
    process.env.AWS_ACCESS_KEY_ID = TEST_KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_KEY.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
    const pool = poolFor(fx, { credentials: undefined });
    try {
      const [rows] = await pool.query<Row[]>('SELECT 2 AS two');
      expect(rows[0]?.two).toBe(2);
    } finally {
      await pool.end();
      process.env = saved;
    }
  });

  it('waits out its acquire timeout while nothing listens, probing, and names the connect error as the cause', async () => {
    const pool = poolFor(fx, {
      connectPort: 1,
      acquireTimeoutMs: 400,
      retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 },
    });
    try {
      const error = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(error).toMatchObject({ code: 'RDS_IAM_ACQUIRE_TIMEOUT', step: 'acquire' });
      expect((error as Error).cause).toMatchObject({ code: 'RDS_IAM_CONNECT_FAILED', step: 'connect' });
      expect((error as Error).message).toMatch(/ECONNREFUSED/);
      // One attempt at a time, with a backoff: retried (the refusal is not final), but not a storm.
      const { transientRetries } = pool.iam.stats();
      expect(transientRetries).toBeGreaterThanOrEqual(2);
      expect(transientRetries).toBeLessThan(400 / 5);
    } finally {
      await pool.end();
    }
  });

  it('exposes the callback pool with the same IAM handle, for libraries that want it', async () => {
    const pool = poolFor(fx);
    try {
      expect(pool.pool.iam).toBe(pool.iam);
      const rows = await new Promise<unknown[]>((resolve, reject) =>
        pool.pool.query('SELECT 3 AS three', (err, result) =>
          err ? reject(err) : resolve(result as unknown[]),
        ),
      );
      expect(rows).toEqual([{ three: 3 }]);
    } finally {
      await pool.end();
    }
  });
});
