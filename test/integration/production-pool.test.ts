import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import net from 'node:net';
import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIAGNOSTICS_CHANNELS,
  IamAcquireTimeoutError,
  IamAuthError,
  type IamPool,
  IamPoolClosedError,
} from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { eventually, movableClock, poolFor, settle } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;
const TOKEN_SHAPED = /X-Amz-(Signature|Security-Token|Credential)|[0-9a-f]{64}/;

async function connectionId(pool: IamPool): Promise<number> {
  const [rows] = await pool.query<Row[]>('SELECT CONNECTION_ID() AS id');
  return rows[0]?.id as number;
}

/**
 * A TCP relay between the pool and the emulator that can go silent: after `blackhole()`, bytes
 * on open connections are swallowed and nothing is closed, as when a NAT forgets a flow or a
 * failed-over instance vanishes. New connections still pass.
 */
async function startRelay(targetPort: number, options: { cutTlsHandshakes?: number } = {}) {
  const open = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const silenced: net.Socket[] = [];
  let toCut = options.cutTlsHandshakes ?? 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    open.add(pair);
    if (toCut > 0) {
      // Cut this connection as the TLS handshake starts: once the client has sent more than its
      // SSLRequest (4 + 32 bytes), what follows is the ClientHello.
      toCut--;
      let sent = 0;
      client.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > 36) {
          client.destroy();
          upstream.destroy();
        } else upstream.write(chunk);
      });
    } else client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    blackhole() {
      for (const { client, upstream } of open) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.removeAllListeners('data');
        upstream.removeAllListeners('data');
        client.on('data', () => {});
        upstream.on('data', () => {});
        silenced.push(client, upstream);
      }
      open.clear();
    },
    async close() {
      server.close();
      for (const socket of silenced) socket.destroy();
      for (const { client, upstream } of open) {
        client.destroy();
        upstream.destroy();
      }
    },
  };
}

describe('production pool behaviour through the emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    // Own database per file, and per run: another engineer's run of this same file must not drop it.
    fx = await createEmulatorFixture({ name: `production_pool_${process.pid}` });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  describe('acquire timeout', () => {
    it('fails a borrow after acquireTimeoutMs with the pool state, instead of waiting forever', async () => {
      const pool = poolFor(fx, { connectionLimit: 1, acquireTimeoutMs: 300 });
      const held = await pool.getConnection();
      const [heldRows] = await held.query<Row[]>('SELECT CONNECTION_ID() AS id');
      try {
        const error = await pool.query('SELECT 1').catch((err: unknown) => err);
        expect(error).toBeInstanceOf(IamAcquireTimeoutError);
        expect(error).toBeInstanceOf(IamAuthError);
        expect(error).toMatchObject({
          code: 'RDS_IAM_ACQUIRE_TIMEOUT',
          step: 'acquire',
          timeoutMs: 300,
          pool: { total: 1, idle: 0, borrowed: 1, opening: 0, waiting: 1 },
        });
        expect((error as Error).message).toContain('1 borrowed');
        expect((error as IamAcquireTimeoutError).hint).toMatch(/release/);
        expect(pool.iam.stats()).toMatchObject({ acquireTimeouts: 1, connectionsOpened: 1 });

        // The caller that gave up left the queue: the released connection serves the next one.
        held.release();
        expect(await connectionId(pool)).toBe(heldRows[0]?.id);
        expect(pool.iam.stats().connections).toMatchObject({ total: 1, idle: 1, waiting: 0 });
      } finally {
        held.release();
        await pool.end();
      }
    });

    it('bounds a login that does not finish, and names the pool state', async () => {
      fx.emulator.faults.delayHandshake(3000);
      const pool = poolFor(fx, { acquireTimeoutMs: 250, endTimeoutMs: 50 });
      try {
        const error = await pool.query('SELECT 1').catch((err: unknown) => err);
        expect(error).toBeInstanceOf(IamAcquireTimeoutError);
        expect((error as IamAcquireTimeoutError).pool).toMatchObject({ total: 1, opening: 1, waiting: 1 });
      } finally {
        fx.emulator.faults.reset();
        await pool.end();
      }
    });
  });

  describe('validation on borrow', () => {
    it('pings a connection that sat idle and replaces it when the server has dropped it', async () => {
      const clock = movableClock();
      const pool = poolFor(fx, { clock: clock.now });
      const retired: string[] = [];
      pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
      try {
        const first = await connectionId(pool);
        clock.advance(1000); // idle past validateAfterIdleMs (500) on the pool's clock
        // The server closes it; the query is issued in the same tick, before the pool can notice.
        fx.emulator.faults.dropAllConnections();
        const second = await connectionId(pool);
        expect(second).not.toBe(first);
        expect(retired).toEqual(['failed-validation']);
        expect(pool.iam.stats()).toMatchObject({ deadOnBorrow: 1, connectionsOpened: 2 });
      } finally {
        await pool.end();
      }
    });

    it('pings on every borrow with validateAfterIdleMs: 0', async () => {
      const pool = poolFor(fx, { validateAfterIdleMs: 0 });
      try {
        const first = await connectionId(pool);
        fx.emulator.faults.dropAllConnections();
        expect(await connectionId(pool)).not.toBe(first);
        expect(pool.iam.stats().deadOnBorrow).toBe(1);
      } finally {
        await pool.end();
      }
    });

    it('gives up on a ping that is never answered after validationTimeoutMs and replaces the connection', async () => {
      const relay = await startRelay(fx.emulator.port);
      const clock = movableClock();
      const pool = poolFor(fx, { connectPort: relay.port, clock: clock.now, validationTimeoutMs: 200 });
      try {
        const first = await connectionId(pool);
        relay.blackhole(); // the idle connection now leads nowhere, and nothing tells the client
        clock.advance(60_000);
        expect(await connectionId(pool)).not.toBe(first);
        expect(pool.iam.stats()).toMatchObject({ deadOnBorrow: 1, connectionsOpened: 2 });
      } finally {
        await pool.end();
        await relay.close();
      }
    });
  });

  describe('a server that drops the connection during the TLS handshake', () => {
    it('is retried like any network failure, not reported as a certificate that failed verification', async () => {
      const relay = await startRelay(fx.emulator.port, { cutTlsHandshakes: 2 });
      const pool = poolFor(fx, { connectPort: relay.port });
      try {
        const [rows] = await pool.query<Row[]>('SELECT 1 AS ok');
        expect(rows[0]?.ok).toBe(1);
        expect(pool.iam.stats()).toMatchObject({ transientRetries: 2, connectionsOpened: 1 });
      } finally {
        await pool.end();
        await relay.close();
      }
    });
  });

  describe('a busy pool', () => {
    it('hands released connections straight to waiting callers: every query answered, two logins', async () => {
      const pool = poolFor(fx, { connectionLimit: 2 });
      let idled = 0;
      pool.on('release', () => idled++); // mysql2's event for a connection that went idle
      try {
        // Each query holds its connection for 10 ms, so both logins finish while callers still wait.
        const held = () => pool.query<Row[]>('SELECT CONNECTION_ID() AS id, SLEEP(0.01) AS slept');
        const ids = (await Promise.all(Array.from({ length: 40 }, held))).map(([rows]) => rows[0]?.id);
        expect(new Set(ids).size).toBe(2);
        const stats = pool.iam.stats();
        expect(stats).toMatchObject({ connectionsOpened: 2, tokensSigned: 1 });
        expect(stats.acquireTimeMs.count).toBe(40);
        expect(stats.connections).toMatchObject({ total: 2, idle: 2, borrowed: 0, waiting: 0 });
        // Only the last two releases found nobody waiting (38 went straight to a caller).
        expect(idled).toBe(2);
        // Handed on, a connection is released again like any other (else the pool would hang above).
        expect(await connectionId(pool)).toBeTypeOf('number');
      } finally {
        await pool.end();
      }
    });
  });

  describe('max lifetime', () => {
    it('keeps a connection below 90% of maxLifetimeMs and retires it past its lifetime', async () => {
      const clock = movableClock();
      const pool = poolFor(fx, { clock: clock.now, maxLifetimeMs: 60_000 });
      const retired: Array<{ reason: string; ageMs: number }> = [];
      pool.iam.on('connectionRetired', (m) => retired.push(m));
      try {
        const first = await connectionId(pool);
        clock.advance(50_000); // below the earliest retirement age (54 s)
        expect(await connectionId(pool)).toBe(first);
        clock.advance(11_000); // past the latest (60 s)
        const second = await connectionId(pool);
        expect(second).not.toBe(first);
        expect(retired).toEqual([{ ...retired[0], reason: 'max-lifetime' }]);
        expect(retired[0]?.ageMs).toBeGreaterThanOrEqual(61_000);
        expect(pool.iam.stats()).toMatchObject({
          connectionsRetired: 1,
          connectionsOpened: 2,
          deadOnBorrow: 0,
        });
        await eventually(
          () => !fx.emulator.sessions().some((s) => s.id === first),
          'the retired session to close on the server side',
        );
      } finally {
        await pool.end();
      }
    });

    it('retires a connection released past its lifetime instead of handing it to a waiting caller', async () => {
      const clock = movableClock();
      const pool = poolFor(fx, { clock: clock.now, maxLifetimeMs: 60_000, connectionLimit: 1 });
      const retired: string[] = [];
      pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
      try {
        const held = await pool.getConnection();
        const first = held.threadId;
        const waiting = connectionId(pool);
        await settle(20);
        expect(pool.iam.stats().connections.waiting).toBe(1);
        clock.advance(61_000);
        held.release();
        expect(await waiting).not.toBe(first);
        expect(retired).toEqual(['max-lifetime']);
        expect(pool.iam.stats()).toMatchObject({ connectionsOpened: 2, connectionsRetired: 1 });
      } finally {
        await pool.end();
      }
    });

    it('closes idle connections past their lifetime without waiting for a borrow', async () => {
      const clock = movableClock();
      const pool = poolFor(fx, { clock: clock.now, maxLifetimeMs: 60_000, connectionLimit: 3 });
      try {
        await Promise.all(Array.from({ length: 3 }, () => pool.query('SELECT SLEEP(0.3)')));
        expect(pool.iam.stats().connections).toMatchObject({ total: 3, idle: 3 });
        clock.advance(61_000);
        await eventually(() => pool.iam.stats().connectionsRetired === 3, 'housekeeping to retire 3');
        expect(pool.iam.stats().connections.total).toBe(0);
      } finally {
        await pool.end();
      }
    });
  });

  describe('graceful end', () => {
    it('lets borrowed work finish, fails queued and new borrows at once, then closes everything', async () => {
      const pool = poolFor(fx, { connectionLimit: 1 });
      const conn = await pool.getConnection();
      const sessionId = conn.threadId; // the emulator's id for this session
      const inFlight = conn.query<Row[]>('SELECT SLEEP(0.3) AS slept');
      const queued = pool.query('SELECT 1').catch((err: unknown) => err);
      await settle(20);
      const ended = pool.end();
      const late = await pool.query('SELECT 1').catch((err: unknown) => err);
      expect(late).toBeInstanceOf(IamPoolClosedError);
      expect(late).toMatchObject({ code: 'RDS_IAM_POOL_CLOSED', message: 'Pool is closed.' });
      expect(await queued).toBeInstanceOf(IamPoolClosedError);
      const [rows] = await inFlight;
      expect(rows[0]?.slept).toBe(0);
      conn.release();
      await ended;
      expect(pool.iam.stats()).toMatchObject({
        connectionsInterrupted: 0,
        connections: { total: 0, idle: 0, borrowed: 0, opening: 0, waiting: 0 },
      });
      await eventually(() => !fx.emulator.sessions().some((s) => s.id === sessionId), 'the session to close');
    });

    it('cuts off a connection not released within endTimeoutMs: its query fails, nothing hangs', async () => {
      const pool = poolFor(fx, { endTimeoutMs: 200 });
      const retired: string[] = [];
      pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
      const conn = await pool.getConnection();
      const stuck = conn.query('SELECT SLEEP(2)').catch((err: unknown) => err);
      await settle(20);
      await pool.end();
      const error = await stuck;
      expect(error).toBeInstanceOf(IamPoolClosedError);
      expect((error as Error).message).toContain('endTimeoutMs');
      expect(retired).toEqual(['end-timeout']);
      expect(pool.iam.stats()).toMatchObject({ connectionsInterrupted: 1, connections: { total: 0 } });
    });

    it('ends once, however often end() is called, also through the callback pool', async () => {
      const pool = poolFor(fx);
      await pool.query('SELECT 1');
      const viaCallback = new Promise<unknown>((resolve) => pool.pool.end((err) => resolve(err)));
      await Promise.all([pool.end(), pool.end()]);
      expect(await viaCallback).toBeNull();
    });
  });

  describe('login rate cap', () => {
    it('spaces a cold burst of logins under maxLoginsPerSecond: the server never sees more per second', async () => {
      // The emulator counts a login when the token arrives; the pool spaces logins 50 ms apart
      // (20/s). The emulator refuses past 24/s: the margin absorbs loopback scheduling jitter.
      fx.emulator.faults.capLoginsPerSecond(24);
      const before = fx.emulator.stats();
      const pool = poolFor(fx, { connectionLimit: 20, maxLoginsPerSecond: 20 });
      try {
        // Each query outlasts the burst (20 logins take 1 s), so every caller needs a login of its own.
        await Promise.all(Array.from({ length: 20 }, () => pool.query('SELECT SLEEP(1.5)')));
        const after = fx.emulator.stats();
        expect(after.loginsAccepted - before.loginsAccepted).toBe(20);
        expect(after.loginsRejected['rate-limited'] ?? 0).toBe(before.loginsRejected['rate-limited'] ?? 0);
        expect(pool.iam.stats()).toMatchObject({ connectionsOpened: 20, authRetries: 0 });
        expect(pool.iam.stats().loginsDelayed).toBeGreaterThanOrEqual(19);
      } finally {
        fx.emulator.faults.reset();
        await pool.end();
      }
    });
  });

  describe('observability', () => {
    it('publishes token, login and retirement events on diagnostics_channel, with no secret in them', async () => {
      const seen: Array<{ channel: string; message: Record<string, unknown> }> = [];
      const listeners = Object.values(DIAGNOSTICS_CHANNELS).map((name) => {
        const listener = (message: unknown) => seen.push({ channel: name, message: message as never });
        subscribe(name, listener);
        return () => unsubscribe(name, listener);
      });
      const clock = movableClock();
      const pool = poolFor(fx, { clock: clock.now, maxLifetimeMs: 60_000, acquireTimeoutMs: 2000 });
      try {
        fx.emulator.faults.rejectNextLogins(1);
        await pool.query('SELECT 1');
        clock.advance(61_000);
        await pool.query('SELECT 1');
        const byChannel = (name: string) => seen.filter((s) => s.channel === name).map((s) => s.message);
        expect(byChannel(DIAGNOSTICS_CHANNELS.tokenSigned).length).toBeGreaterThanOrEqual(2);
        expect(byChannel(DIAGNOSTICS_CHANNELS.loginFailed)).toEqual([
          expect.objectContaining({
            host: fx.emulator.host,
            user: 'iam_app',
            attempt: 1,
            reason: 'auth-rejected',
            willRetry: true,
            errno: 1045,
          }),
        ]);
        expect(byChannel(DIAGNOSTICS_CHANNELS.connectionRetired)).toEqual([
          expect.objectContaining({ reason: 'max-lifetime', host: fx.emulator.host }),
        ]);
        for (const { message } of seen) {
          expect(JSON.stringify({ ...message, error: String(message.error ?? '') })).not.toMatch(
            TOKEN_SHAPED,
          );
        }
      } finally {
        for (const stop of listeners) stop();
        fx.emulator.faults.reset();
        await pool.end();
      }
    });

    it('reports connections by state, waiting callers and acquire-time percentiles', async () => {
      const pool = poolFor(fx, { connectionLimit: 2 });
      try {
        const a = await pool.getConnection();
        const b = await pool.getConnection();
        const waiting = pool.query('SELECT 1');
        await settle(20);
        expect(pool.iam.stats().connections).toEqual({
          total: 2,
          idle: 0,
          borrowed: 2,
          opening: 0,
          waiting: 1,
        });
        a.release();
        await waiting;
        b.release();
        const stats = pool.iam.stats();
        expect(stats.connections).toEqual({ total: 2, idle: 2, borrowed: 0, opening: 0, waiting: 0 });
        expect(stats.acquireTimeMs.count).toBe(3);
        const { p50, p95, p99, max } = stats.acquireTimeMs;
        expect(p50).toBeLessThanOrEqual(p95);
        expect(p95).toBeLessThanOrEqual(p99);
        expect(p99).toBeLessThanOrEqual(max);
        expect(max).toBeGreaterThan(0);
      } finally {
        await pool.end();
      }
    });
  });
});
