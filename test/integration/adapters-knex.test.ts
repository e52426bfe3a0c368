import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamKnex } from '../../src/adapters/knex.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

describe('createIamKnex through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_knex' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('creates a table, inserts and selects through Knex on the IAM pool', async () => {
    const db = createIamKnex(iamOptionsFor(fx));
    try {
      await db.schema.createTable('knex_notes', (t) => {
        t.increments('id');
        t.string('body', 100).notNullable();
      });
      await db('knex_notes').insert([{ body: 'first' }, { body: 'second' }]);
      const rows = await db('knex_notes').select('id', 'body').orderBy('id');
      expect(rows).toEqual([
        { id: 1, body: 'first' },
        { id: 2, body: 'second' },
      ]);
      await db.transaction(async (trx) => {
        await trx('knex_notes').where({ id: 2 }).update({ body: 'updated' });
      });
      expect(await db('knex_notes').where({ id: 2 }).first()).toEqual({ id: 2, body: 'updated' });
      expect(db.iam).toBe(db.iamPool.iam);
      expect(db.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0 });
    } finally {
      await db.destroy();
    }
    // destroy() ended the IAM pool it created.
    await expect(db.iamPool.query('SELECT 1')).rejects.toThrow(/Pool is closed/);
  });

  it('knows its database on the external pool, so columnInfo() and hasColumn() work', async () => {
    const db = createIamKnex(iamOptionsFor(fx));
    try {
      const info = await db('items').columnInfo();
      expect(Object.keys(info)).toEqual(['id', 'name']);
      expect(info.name).toMatchObject({ type: 'varchar', maxLength: 50, nullable: true });
      expect(await db.schema.hasColumn('items', 'name')).toBe(true);
    } finally {
      await db.destroy();
    }
  });

  it('runs Knex migrations (lock table, transactions) on the IAM pool', async () => {
    const db = createIamKnex(iamOptionsFor(fx));
    const migrationSource = {
      getMigrations: async () => ['001_create_knex_tags'],
      getMigrationName: (name: string) => name,
      getMigration: async () => ({
        up: (k: Knex) => k.schema.createTable('knex_tags', (t) => t.string('name').primary()),
        down: (k: Knex) => k.schema.dropTable('knex_tags'),
      }),
    };
    try {
      const [batch, applied] = await db.migrate.latest({ migrationSource });
      expect([batch, applied]).toEqual([1, ['001_create_knex_tags']]);
      expect(await db.schema.hasTable('knex_tags')).toBe(true);
      const [, pending] = await db.migrate.list({ migrationSource });
      expect(pending).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('borrows the side connection Knex uses to cancel a query from the IAM pool', async () => {
    const db = createIamKnex(iamOptionsFor(fx, { connectionLimit: 2 }));
    try {
      await db.raw('SELECT 1');
      const client = db.client as {
        acquireRawConnection(): Promise<{ threadId: number; release(): void }>;
        destroyRawConnection(c: unknown): Promise<void>;
      };
      const side = await client.acquireRawConnection();
      expect(side.threadId).toBeGreaterThan(0);
      await client.destroyRawConnection(side);
      // Both went through the IAM pool: one signing, and the side connection went back to the pool.
      expect(db.iam.stats()).toMatchObject({ tokensSigned: 1 });
      expect(db.iam.stats().connectionsOpened).toBeLessThanOrEqual(2);
    } finally {
      await db.destroy();
    }
  });

  it('signs once more after 15 minutes, and every new connection uses that one token', async () => {
    const clock = movableClock();
    const db = createIamKnex(iamOptionsFor(fx, { clock: clock.now, connectionLimit: 3 }));
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => db.iam.stats().tokensSigned,
        runConcurrently: (n) => Promise.all(Array.from({ length: n }, () => db.raw('SELECT SLEEP(0.4)'))),
      });
      expect(db.iam.stats()).toMatchObject({ connectionsOpened: 6, authRetries: 0 });
    } finally {
      await db.destroy();
    }
  });
});
