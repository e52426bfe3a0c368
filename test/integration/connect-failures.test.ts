/**
 * Every way a connect can fail reaches the caller as a typed error that tells the truth: the right
 * code and step, a hint that matches what happened, the original error as `cause`, and the address
 * really dialled when it differs from the endpoint.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../src/emulator/index.js';
import {
  createIamPool,
  IamAcquireTimeoutError,
  IamConnectError,
  IamLoginError,
  IamOptionsError,
  IamPoolExhaustedError,
} from '../../src/index.js';
import {
  createEmulatorFixture,
  type EmulatorFixture,
  MARIADB,
  TEST_KEY,
} from '../helpers/emulator-harness.js';
import { poolFor, settle } from '../helpers/pool-fixture.js';

let fx: EmulatorFixture;
let silent: { server: Server; port: number; sockets: Set<Socket> };

beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'connect_failures', iamUsers: ['iam_app'] });
  // Accepts TCP and never says a word: a MySQL handshake that never starts.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  silent = { server, port: (server.address() as { port: number }).port, sockets };
});

afterAll(async () => {
  for (const socket of silent?.sockets ?? []) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.server.close(() => resolve()) : resolve()));
  await fx?.teardown();
});

describe('a server that accepts TCP and never greets', () => {
  it('times out with the connect error as cause and a hint about the handshake, and end() does not wait for it', async () => {
    const pool = poolFor(fx, { connectPort: silent.port, acquireTimeoutMs: 3000, endTimeoutMs: 20_000 });
    const retired: string[] = [];
    pool.iam.on('connectionRetired', (m) => retired.push(m.reason));
    const error = await pool.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IamAcquireTimeoutError);
    const timeout = error as IamAcquireTimeoutError;
    // connectTimeout defaults to half of acquireTimeoutMs: the attempt failed on its own first.
    expect(timeout.cause).toBeInstanceOf(IamConnectError);
    expect(String((timeout.cause as Error).message)).toContain(`via 127.0.0.1:${silent.port}`);
    expect(timeout.hint).not.toMatch(/stayed borrowed/);
    expect(timeout.message).toContain(`via 127.0.0.1:${silent.port}`);

    const ended = await Promise.race([
      pool.end().then(() => 'ended'),
      new Promise((resolve) => setTimeout(resolve, 10_000, 'still ending')),
    ]);
    expect(ended).toBe('ended');
    expect(retired).not.toContain('end-timeout');
    expect(pool.iam.stats().connections.total).toBe(0);
  });

  it('blames the connect failure and the connection still opening, not connections that stayed borrowed', async () => {
    const pool = poolFor(fx, {
      connectPort: silent.port,
      connectionLimit: 1,
      acquireTimeoutMs: 400,
      connectTimeout: 300,
    });
    // Both callers wait on the pool's logins: the first attempt times out (connectTimeout), the next
    // one is still opening at their deadline, and nothing was ever borrowed.
    const [, second] = await Promise.all([
      pool.query('SELECT 1').catch((e: unknown) => e),
      pool.query('SELECT 1').catch((e: unknown) => e),
    ]);
    await pool.end();
    expect(second).toBeInstanceOf(IamAcquireTimeoutError);
    const timeout = second as IamAcquireTimeoutError;
    expect(timeout.pool).toMatchObject({ borrowed: 0, opening: 1 });
    expect(timeout.cause).toBeInstanceOf(IamConnectError);
    expect((timeout.cause as Error).message).toMatch(/ETIMEDOUT/);
    expect(timeout.hint).toMatch(/could not be opened/);
    expect(timeout.hint).not.toMatch(/stayed borrowed/);
  });

  it('refuses a connectTimeout that is not below acquireTimeoutMs', () => {
    expect(() => poolFor(fx, { acquireTimeoutMs: 3000, connectTimeout: 3000 })).toThrow(IamOptionsError);
    expect(() => poolFor(fx, { acquireTimeoutMs: 3000, connectTimeout: 3000 })).toThrow('connectTimeout');
  });
});

describe('failures that used to reach the caller raw', () => {
  it('an unresolvable tunnel host is a typed connect error naming the tunnel, not retried', async () => {
    const pool = poolFor(fx, { connectHost: 'no-such-host.invalid' });
    try {
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IamConnectError);
      expect(error).toMatchObject({ code: 'RDS_IAM_CONNECT_FAILED', step: 'connect' });
      expect((error as Error).message).toContain('via no-such-host.invalid');
      expect((error as IamConnectError).hint).toMatch(/connectHost/);
      expect((error as Error).cause).toMatchObject({ code: 'ENOTFOUND' });
      expect(pool.iam.stats().transientRetries).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('an unknown database is a typed login error', async () => {
    // The backend account must be allowed to see every database for MariaDB to say "unknown"
    // (1049) rather than "access denied" (1044): an emulator that logs in as root.
    const emulator = await startEmulator({
      backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
      users: { iam_root: {} },
      keys: [TEST_KEY],
    });
    const pool = createIamPool({
      host: emulator.host,
      port: emulator.endpointPort,
      user: 'iam_root',
      database: `${fx.database}_missing`,
      connectHost: '127.0.0.1',
      connectPort: emulator.port,
      ssl: { ca: emulator.ca },
      credentials: async () => ({ ...TEST_KEY }),
    });
    try {
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IamLoginError);
      expect(error).toMatchObject({ code: 'RDS_IAM_UNKNOWN_DATABASE', errno: 1049 });
    } finally {
      await pool.end();
      await emulator.stop();
    }
  });

  it('a user refused without being asked for a token is not retried, and is called not an IAM user', async () => {
    const pool = poolFor(fx, { user: 'not_an_iam_user' });
    try {
      const before = fx.emulator.stats().loginsRejected['unknown-user'] ?? 0;
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IamLoginError);
      expect(error).toMatchObject({ code: 'RDS_IAM_NOT_IAM_USER', step: 'login' });
      expect((error as IamLoginError).hint).toMatch(/without asking for a token/);
      expect(pool.iam.stats()).toMatchObject({ authRetries: 0, tokensSigned: 0 });
      expect((fx.emulator.stats().loginsRejected['unknown-user'] ?? 0) - before).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('a refused connection names the endpoint and the address really dialled', async () => {
    const pool = poolFor(fx, { connectPort: 1, acquireTimeoutMs: 300 });
    try {
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      const dialled = `${fx.emulator.host}:${fx.emulator.endpointPort} via 127.0.0.1:1`;
      expect((error as Error).message).toContain(dialled);
      expect(((error as Error).cause as Error).message).toContain(dialled);
    } finally {
      await pool.end();
    }
  });

  it('a full queue is a typed error, not a raw mysql2 one', async () => {
    const pool = poolFor(fx, { connectionLimit: 1, queueLimit: 1 });
    try {
      const held = await pool.getConnection();
      const waiting = pool.query('SELECT 1');
      const error = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(IamPoolExhaustedError);
      expect(error).toMatchObject({ code: 'RDS_IAM_POOL_EXHAUSTED', step: 'acquire' });
      held.release();
      await waiting;
    } finally {
      await pool.end();
    }
  });
});

describe('the login rate cap', () => {
  it('gives no turn to logins whose connection closed while they waited', async () => {
    // The measured case: 30 connections, 5 logins a second, connectTimeout 1 s, other options default.
    const pool = poolFor(fx, { connectionLimit: 30, maxLoginsPerSecond: 5, connectTimeout: 1000 });
    try {
      // A burst: most logins wait for their turn longer than connectTimeout and are cut by mysql2.
      const burst = await Promise.all(
        Array.from({ length: 30 }, () =>
          pool.query('SELECT 1').then(
            () => 'ok',
            () => 'failed',
          ),
        ),
      );
      expect(burst).toContain('ok');
      // Later queries on a healthy server need new logins, which must not queue behind the logins
      // that died waiting (before the fix each failed after connectTimeout).
      fx.emulator.faults.dropAllConnections();
      await settle(100);
      for (let i = 0; i < 3; i++) {
        const [rows] = await pool.query('SELECT 1 AS one');
        expect(rows).toEqual([{ one: 1 }]);
      }
    } finally {
      await pool.end();
    }
  });
});
