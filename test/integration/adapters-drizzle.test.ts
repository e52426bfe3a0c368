import { sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamDrizzle } from '../../src/adapters/drizzle.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

const notes = mysqlTable('drizzle_notes', {
  id: int('id').primaryKey().autoincrement(),
  body: varchar('body', { length: 100 }).notNull(),
});

describe('createIamDrizzle through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_drizzle' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('creates a table, inserts and selects through Drizzle on the IAM pool', async () => {
    const db = createIamDrizzle(iamOptionsFor(fx), { schema: { notes }, mode: 'default' });
    try {
      await db.execute(
        sql`CREATE TABLE drizzle_notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL)`,
      );
      await db.insert(notes).values([{ body: 'first' }, { body: 'second' }]);
      const rows = await db.select().from(notes).orderBy(notes.id);
      expect(rows).toEqual([
        { id: 1, body: 'first' },
        { id: 2, body: 'second' },
      ]);
      const viaRelationalApi = await db.query.notes.findFirst({ where: (n, { eq }) => eq(n.body, 'second') });
      expect(viaRelationalApi).toEqual({ id: 2, body: 'second' });
      expect(db.$client.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0 });
    } finally {
      await db.$client.end();
    }
  });

  it('signs once more after 15 minutes, and every new connection uses that one token', async () => {
    const clock = movableClock();
    const db = createIamDrizzle(iamOptionsFor(fx, { clock: clock.now, connectionLimit: 3 }));
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => db.$client.iam.stats().tokensSigned,
        runConcurrently: (n) =>
          Promise.all(Array.from({ length: n }, () => db.execute(sql`SELECT SLEEP(0.4)`))),
      });
      expect(db.$client.iam.stats()).toMatchObject({ connectionsOpened: 6, authRetries: 0 });
    } finally {
      await db.$client.end();
    }
  });
});
