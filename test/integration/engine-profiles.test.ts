import type { RowDataPacket } from 'mysql2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineProfileName } from '../../src/emulator/index.js';
import { IamAuthError } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { poolFor } from '../helpers/pool-fixture.js';

type Row = RowDataPacket & Record<string, unknown>;

/**
 * The login path of createIamPool against each RDS engine's greeting: RDS for MySQL 8.0
 * (mysql_native_password), MySQL 8.4 (caching_sha2_password, which mysql2 answers differently) and
 * MariaDB (its own version string and capabilities).
 */
describe.each<EngineProfileName>(['mysql8.0', 'mysql8.4', 'mariadb'])(
  'createIamPool against the %s profile',
  (engine) => {
    let fx: EmulatorFixture;
    beforeAll(async () => {
      fx = await createEmulatorFixture({ name: `engine_${engine.replace('.', '')}`, emulator: { engine } });
    });
    afterAll(async () => {
      await fx?.teardown();
    });

    const rejected = (reason: string) => fx.emulator.stats().loginsRejected[reason] ?? 0;

    it('logs in and runs a query', async () => {
      expect(fx.emulator.engine).toBe(engine);
      const before = fx.emulator.stats().loginsAccepted;
      const pool = poolFor(fx, { connectionLimit: 2 });
      try {
        const [rows] = await pool.query<Row[]>('SELECT name FROM items ORDER BY id');
        expect(rows).toEqual([{ name: 'one' }, { name: 'two' }]);
        const [prepared] = await pool.execute<Row[]>('SELECT name FROM items WHERE id = ?', [2]);
        expect(prepared).toEqual([{ name: 'two' }]);
        expect(fx.emulator.stats().loginsAccepted - before).toBeGreaterThanOrEqual(1);
      } finally {
        await pool.end();
      }
    });

    it('retries a refused login with a fresh token and returns the rows', async () => {
      const before = { refused: rejected('fault-injected'), accepted: fx.emulator.stats().loginsAccepted };
      fx.emulator.faults.rejectNextLogins(1);
      const pool = poolFor(fx, { connectionLimit: 1 });
      try {
        const [rows] = await pool.query<Row[]>('SELECT name FROM items WHERE id = 1');
        expect(rows).toEqual([{ name: 'one' }]);
        expect(rejected('fault-injected') - before.refused).toBe(1);
        expect(fx.emulator.stats().loginsAccepted - before.accepted).toBe(1);
      } finally {
        await pool.end();
        fx.emulator.faults.reset();
      }
    });

    it('retries a refused token with a fresh one, then fails with a typed 1045 error', async () => {
      const before = rejected('fault-injected');
      fx.emulator.faults.rejectNextLogins(10);
      const pool = poolFor(fx, { retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 } });
      try {
        const error = await pool.query('SELECT 1').catch((err: unknown) => err);
        expect(error).toBeInstanceOf(IamAuthError);
        expect(error).toMatchObject({ code: 'RDS_IAM_ACCESS_DENIED', errno: 1045 });
        expect(rejected('fault-injected') - before).toBe(2);
      } finally {
        fx.emulator.faults.reset();
        await pool.end();
      }
    });

    it('refuses a user that is not an IAM user at once, with a typed 1045 error', async () => {
      const before = rejected('unknown-user');
      const pool = poolFor(fx, {
        user: 'not_an_iam_user',
        retry: { retries: 1, minTimeoutMs: 5, maxTimeoutMs: 10 },
      });
      try {
        const error = await pool.query('SELECT 1').catch((err: unknown) => err);
        expect(error).toBeInstanceOf(IamAuthError);
        expect(error).toMatchObject({ code: 'RDS_IAM_NOT_IAM_USER', errno: 1045 });
        expect(rejected('unknown-user') - before).toBe(1);
      } finally {
        await pool.end();
      }
    });
  },
);
