import { EntitySchema } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamDataSource } from '../../src/adapters/typeorm.js';
import { IamOptionsError } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

interface Note {
  id: number;
  body: string;
  views: string; // BIGINT: TypeORM's default bigNumberStrings must reach the IAM pool
}

const NoteSchema = new EntitySchema<Note>({
  name: 'Note',
  tableName: 'typeorm_notes',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    body: { type: String, length: 100 },
    views: { type: 'bigint', default: 0 },
  },
});

describe('createIamDataSource (TypeORM) through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_typeorm' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('synchronizes the schema, inserts and selects through a repository on the IAM pool', async () => {
    const dataSource = createIamDataSource(iamOptionsFor(fx), {
      type: 'mariadb',
      entities: [NoteSchema],
      synchronize: true,
    });
    expect(() => dataSource.iam).toThrow(/initialize/);
    await dataSource.initialize();
    try {
      const notes = dataSource.getRepository(NoteSchema);
      await notes.save([
        { body: 'first', views: '9007199254740993' },
        { body: 'second', views: '0' },
      ]);
      const rows = await notes.find({ order: { id: 'ASC' } });
      expect(rows).toEqual([
        { id: 1, body: 'first', views: '9007199254740993' },
        { id: 2, body: 'second', views: '0' },
      ]);
      expect(dataSource.iamPool?.iam).toBe(dataSource.iam);
      expect(dataSource.iam.stats()).toMatchObject({ tokensSigned: 1, authRetries: 0 });
    } finally {
      await dataSource.destroy();
    }
    // destroy() ended the IAM pool TypeORM created.
    await expect(dataSource.iamPool?.query('SELECT 1')).rejects.toThrow(/Pool is closed/);
  });

  it('passes TypeORM pool settings through and refuses a password hidden in `extra`', async () => {
    const sized = createIamDataSource(iamOptionsFor(fx), { type: 'mysql', poolSize: 2 });
    await sized.initialize();
    try {
      const config = (sized.iamPool!.pool as unknown as { config: { connectionLimit: number } }).config;
      expect(config.connectionLimit).toBe(2);
    } finally {
      await sized.destroy();
    }
    const withPassword = createIamDataSource(iamOptionsFor(fx), {
      type: 'mysql',
      extra: { password: 'static' },
    });
    await expect(withPassword.initialize()).rejects.toBeInstanceOf(IamOptionsError);
  });

  it('signs once more after 15 minutes, and every new connection uses that one token', async () => {
    const clock = movableClock();
    const dataSource = createIamDataSource(iamOptionsFor(fx, { clock: clock.now, connectionLimit: 3 }), {
      type: 'mariadb',
    });
    await dataSource.initialize();
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => dataSource.iam.stats().tokensSigned,
        runConcurrently: (n) =>
          Promise.all(Array.from({ length: n }, () => dataSource.query('SELECT SLEEP(0.4)'))),
      });
      expect(dataSource.iam.stats()).toMatchObject({ connectionsOpened: 6, authRetries: 0 });
    } finally {
      await dataSource.destroy();
    }
  });
});
