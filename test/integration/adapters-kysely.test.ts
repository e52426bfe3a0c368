import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IamMysqlDialect } from '../../src/adapters/kysely.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

interface Database {
  kysely_notes: { id: number | undefined; body: string };
  items: { id: number; name: string };
}

describe('IamMysqlDialect (Kysely) through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_kysely' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('creates a table, inserts and selects through Kysely on the IAM pool', async () => {
    const dialect = new IamMysqlDialect(iamOptionsFor(fx));
    const db = new Kysely<Database>({ dialect });
    try {
      await db.schema
        .createTable('kysely_notes')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('body', 'varchar(100)', (c) => c.notNull())
        .execute();
      await db
        .insertInto('kysely_notes')
        .values([{ body: 'first' }, { body: 'second' }])
        .execute();
      const rows = await db.selectFrom('kysely_notes').selectAll().orderBy('id').execute();
      expect(rows).toEqual([
        { id: 1, body: 'first' },
        { id: 2, body: 'second' },
      ]);
      expect(dialect.iam).toBe(dialect.pool.iam);
      expect(dialect.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0 });
    } finally {
      await db.destroy();
    }
    // Kysely#destroy() ended the IAM pool.
    await expect(dialect.pool.query('SELECT 1')).rejects.toThrow(/Pool is closed/);
  });

  it('signs once more after 15 minutes, and every new connection uses that one token', async () => {
    const clock = movableClock();
    const dialect = new IamMysqlDialect(iamOptionsFor(fx, { clock: clock.now, connectionLimit: 3 }));
    const db = new Kysely<Database>({ dialect });
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => dialect.iam.stats().tokensSigned,
        runConcurrently: (n) =>
          Promise.all(Array.from({ length: n }, () => sql`SELECT SLEEP(0.4)`.execute(db))),
      });
      expect(dialect.iam.stats()).toMatchObject({ connectionsOpened: 6, authRetries: 0 });
    } finally {
      await db.destroy();
    }
  });
});
