import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createIamConnectionOptions, IamOptionsError } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

type Row = mysql.RowDataPacket & Record<string, unknown>;

describe('createIamConnectionOptions: connections a library opens itself, through the emulator', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_conn_options' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('logs in every mysql2.createConnection with one shared signing, and mysql2 sees no unknown option', async () => {
    const options = createIamConnectionOptions(iamOptionsFor(fx));
    const before = fx.emulator.stats();
    const warn = vi.spyOn(console, 'warn');
    const error = vi.spyOn(console, 'error');
    try {
      for (let i = 0; i < 3; i++) {
        // A copy, as ORMs make one: the handle stays on the original, the login behaviour travels.
        const connection = await mysql.createConnection({ ...options });
        const [rows] = await connection.query<Row[]>('SELECT DATABASE() AS db, COUNT(*) AS n FROM items');
        expect(rows[0]).toEqual({ db: fx.database, n: 2 });
        await connection.end();
      }
      expect(Object.keys(options)).not.toContain('iam');
      expect(options.iam.stats()).toMatchObject({
        tokensSigned: 1,
        cacheHits: 2,
        connectionsOpened: 3,
        loginsRefused: 0,
      });
      const after = fx.emulator.stats();
      expect(after.loginsAccepted - before.loginsAccepted).toBe(3);
      expect(after.distinctTokens - before.distinctTokens).toBe(1);
      const mysql2Complaints = [...warn.mock.calls, ...error.mock.calls].filter((c) =>
        String(c[0]).includes('invalid configuration option'),
      );
      expect(mysql2Complaints).toEqual([]);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });

  it('signs once more after 15 minutes for a pool that mysql2 builds from the options', async () => {
    const clock = movableClock();
    const options = createIamConnectionOptions(iamOptionsFor(fx, { clock: clock.now }));
    const pool = mysql.createPool({ ...options, connectionLimit: 3 });
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => options.iam.stats().tokensSigned,
        runConcurrently: (n) => Promise.all(Array.from({ length: n }, () => pool.query('SELECT 1'))),
      });
      expect(options.iam.stats()).toMatchObject({ connectionsOpened: 6, loginsRefused: 0 });
    } finally {
      await pool.end();
    }
  });

  it('sends no token and signs none when the server certificate does not verify', async () => {
    const options = createIamConnectionOptions(iamOptionsFor(fx));
    fx.emulator.faults.useUntrustedCertificate(true);
    try {
      await expect(mysql.createConnection(options)).rejects.toMatchObject({ code: 'HANDSHAKE_SSL_ERROR' });
      expect(options.iam.stats()).toMatchObject({ tokensSigned: 0, connectionsOpened: 0 });
    } finally {
      fx.emulator.faults.reset();
    }
  });

  it('connects directly to host:port when no tunnel is given, and refuses what IAM login owns', () => {
    const { connectHost: _h, connectPort: _p, ...direct } = iamOptionsFor(fx);
    const options = createIamConnectionOptions(direct);
    expect(options).toMatchObject({
      host: fx.emulator.host,
      port: fx.emulator.endpointPort,
      user: 'iam_app',
    });
    expect(options.stream).toBeUndefined();
    expect(options.ssl).toMatchObject({ rejectUnauthorized: true, verifyIdentity: true, ca: fx.emulator.ca });
    expect(() => createIamConnectionOptions({ ...direct, retry: { retries: 1 } } as never)).toThrow(
      IamOptionsError,
    );
    expect(() => createIamConnectionOptions({ ...direct, maxLifetimeMs: 60_000 } as never)).toThrow(
      /maxLifetimeMs/,
    );
    expect(() => createIamConnectionOptions({ ...direct, password: 'static' } as never)).toThrow(/password/);
  });
});
