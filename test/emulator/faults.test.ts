import type { Connection } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmulatorFixture, type EmulatorFixture, rejectionOf } from '../helpers/emulator-harness.js';

const MINUTE = 60_000;

describe('emulator: fault switches', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'emu_faults' });
  });
  afterEach(() => {
    fx.emulator.faults.reset();
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  const rejected = (reason: string) => fx.emulator.stats().loginsRejected[reason] ?? 0;

  async function loginWorks(): Promise<void> {
    const conn = await fx.connect();
    const [rows] = await conn.query<any[]>('SELECT 1 AS one');
    expect(rows[0].one).toBe(1);
    await conn.end();
  }

  it('rejectNextLogins(2) refuses exactly two otherwise-valid logins', async () => {
    fx.emulator.faults.rejectNextLogins(2);
    const before = rejected('fault-injected');
    for (let i = 0; i < 2; i++) {
      const err = await rejectionOf(() => fx.connect());
      expect(err.errno).toBe(1045);
    }
    expect(rejected('fault-injected') - before).toBe(2);
    await loginWorks();
  });

  it('rejectNextLogins does not spend itself on invalid tokens', async () => {
    fx.emulator.faults.rejectNextLogins(1);
    await rejectionOf(() => fx.connect({ tokenUser: 'someone_else' }));
    const err = await rejectionOf(() => fx.connect());
    expect(err.errno).toBe(1045);
    await loginWorks();
  });

  it('capLoginsPerSecond(2) refuses the third login inside one second, then lets logins through again', async () => {
    fx.emulator.faults.capLoginsPerSecond(2);
    const before = rejected('rate-limited');
    const token = await fx.token();
    const a = await fx.connect({ token });
    const b = await fx.connect({ token });
    const err = await rejectionOf(() => fx.connect({ token }));
    expect(err.errno).toBe(1045);
    expect(rejected('rate-limited') - before).toBe(1);
    await Promise.all([a.end(), b.end()]);
    await new Promise((r) => setTimeout(r, 1100));
    await loginWorks();
    fx.emulator.faults.capLoginsPerSecond(null);
    await Promise.all([loginWorks(), loginWorks(), loginWorks()]);
  });

  it('dropAllConnections kills every live session', async () => {
    const conns = await Promise.all([fx.connect(), fx.connect()]);
    expect(fx.emulator.stats().liveSessions).toBe(2);
    const lost = conns.map((c) => new Promise<Error>((resolve) => c.once('error', resolve)));
    fx.emulator.faults.dropAllConnections();
    for (const err of await Promise.all(lost)) expect((err as any).code).toBe('PROTOCOL_CONNECTION_LOST');
    await expect(conns[0]!.query('SELECT 1')).rejects.toThrow();
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(0);
    for (const c of conns) c.destroy();
  });

  it('dropConnection(id) kills one session and leaves the others alone', async () => {
    const [victim, survivor] = (await Promise.all([fx.connect(), fx.connect()])) as [Connection, Connection];
    const sessions = fx.emulator.sessions();
    expect(sessions).toHaveLength(2);
    // The emulator's session id is the connection id it announced in the greeting.
    const victimId = (victim as any).connection.connectionId as number;
    expect(sessions.map((s) => s.id)).toContain(victimId);
    const lost = new Promise<Error>((resolve) => victim.once('error', resolve));
    fx.emulator.faults.dropConnection(victimId);
    expect(((await lost) as any).code).toBe('PROTOCOL_CONNECTION_LOST');
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(1);
    const [rows] = await survivor.query<any[]>('SELECT 2 AS two');
    expect(rows[0].two).toBe(2);
    await survivor.end();
    victim.destroy();
    await expect.poll(() => fx.emulator.stats().liveSessions).toBe(0);
  });

  it('delayHandshake trips a client connectTimeout, and otherwise delays the login', async () => {
    fx.emulator.faults.delayHandshake(1500);
    const err = await rejectionOf(() => fx.connect({ connectTimeout: 300 }));
    expect(err.code).toBe('ETIMEDOUT');
    fx.emulator.faults.delayHandshake(400);
    const started = Date.now();
    await loginWorks();
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    fx.emulator.faults.delayHandshake(0);
    const fast = Date.now();
    await loginWorks();
    expect(Date.now() - fast).toBeLessThan(380);
  });

  it('shiftClock(16 min) makes a token signed now expired; reset() restores the clock', async () => {
    const token = await fx.token();
    fx.emulator.faults.shiftClock(16 * MINUTE);
    const before = rejected('expired');
    const err = await rejectionOf(() => fx.connect({ token }));
    expect(err.errno).toBe(1045);
    expect(rejected('expired') - before).toBe(1);
    fx.emulator.faults.reset();
    const conn = await fx.connect({ token });
    await conn.end();
  });

  it('shiftClock is cumulative', async () => {
    const token = await fx.token();
    fx.emulator.faults.shiftClock(10 * MINUTE);
    const conn = await fx.connect({ token });
    await conn.end();
    fx.emulator.faults.shiftClock(6 * MINUTE);
    expect((await rejectionOf(() => fx.connect({ token }))).errno).toBe(1045);
  });

  it('stopAccepting closes new connections at once; resumeAccepting lets them in again', async () => {
    const live = await fx.connect();
    fx.emulator.faults.stopAccepting();
    const accepted = fx.emulator.stats().connectionsAccepted;
    const err = await rejectionOf(() => fx.connect({ connectTimeout: 2000 }));
    expect(err.errno).not.toBe(1045);
    expect(fx.emulator.stats().connectionsAccepted).toBe(accepted);
    // Existing sessions are not affected.
    await live.query('SELECT 1');
    fx.emulator.faults.resumeAccepting();
    await loginWorks();
    await live.end();
  });

  it('useUntrustedCertificate makes a verifying client fail closed before any login attempt', async () => {
    fx.emulator.faults.useUntrustedCertificate(true);
    const before = fx.emulator.stats();
    const err = await rejectionOf(() => fx.connect());
    expect(err.code).toBe('HANDSHAKE_SSL_ERROR');
    expect(err.message).toMatch(/certificate/i);
    const after = fx.emulator.stats();
    expect(after.loginsAccepted).toBe(before.loginsAccepted);
    expect(after.loginsRejected).toEqual(before.loginsRejected);
    expect(after.distinctTokens).toBe(before.distinctTokens);
    fx.emulator.faults.useUntrustedCertificate(false);
    await loginWorks();
  });

  it('rejects nonsense fault arguments', () => {
    expect(() => fx.emulator.faults.rejectNextLogins(-1)).toThrow(RangeError);
    expect(() => fx.emulator.faults.delayHandshake(Number.NaN)).toThrow(RangeError);
    expect(() => fx.emulator.faults.shiftClock(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
