import { AccessDeniedError, DataTypes, QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamSequelize } from '../../src/adapters/sequelize.js';
import { IamOptionsError } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { movableClock, settle } from '../helpers/pool-fixture.js';
import { expectOneSigningAfter15Minutes, iamOptionsFor } from './adapters-shared.js';

describe('createIamSequelize through the emulator against MariaDB', () => {
  let fx: EmulatorFixture;
  beforeAll(async () => {
    fx = await createEmulatorFixture({ name: 'adapter_sequelize' });
  });
  afterAll(async () => {
    await fx?.teardown();
  });

  it('creates a table, inserts and selects through Sequelize models', async () => {
    const sequelize = createIamSequelize(iamOptionsFor(fx), { logging: false });
    const Note = sequelize.define(
      'Note',
      { body: { type: DataTypes.STRING(100), allowNull: false } },
      { tableName: 'sequelize_notes', timestamps: false },
    );
    try {
      await sequelize.sync();
      await Note.bulkCreate([{ body: 'first' }, { body: 'second' }]);
      const rows = await Note.findAll({ order: [['id', 'ASC']], raw: true });
      expect(rows).toEqual([
        { id: 1, body: 'first' },
        { id: 2, body: 'second' },
      ]);
      const [who] = await sequelize.query<{ db: string }>('SELECT DATABASE() AS db', {
        type: QueryTypes.SELECT,
      });
      expect(who?.db).toBe(fx.database);
      expect(sequelize.iam.stats()).toMatchObject({ tokensSigned: 1, loginsRefused: 0 });
      expect(sequelize.iam.stats().connectionsOpened).toBeGreaterThanOrEqual(1);
    } finally {
      await sequelize.close();
    }
  });

  it('signs once more after 15 minutes, and every new connection uses that one token', async () => {
    const clock = movableClock();
    const sequelize = createIamSequelize(iamOptionsFor(fx, { clock: clock.now }), {
      logging: false,
      pool: { max: 3, min: 0 },
    });
    try {
      await expectOneSigningAfter15Minutes({
        fx,
        clock,
        connections: 3,
        tokensSigned: () => sequelize.iam.stats().tokensSigned,
        runConcurrently: (n) =>
          Promise.all(
            Array.from({ length: n }, () =>
              sequelize.query('SELECT COUNT(*) AS n FROM items', { type: QueryTypes.SELECT }),
            ),
          ),
      });
      // 3 + 3 pool connections, plus the one Sequelize opens once to read the server version.
      expect(sequelize.iam.stats()).toMatchObject({ connectionsOpened: 7, loginsRefused: 0 });
    } finally {
      await sequelize.close();
    }
  });

  it('drops a refused token, so the next connection signs a fresh one instead of failing for 10 minutes', async () => {
    const sequelize = createIamSequelize(iamOptionsFor(fx), { logging: false, pool: { max: 1 } });
    const refusals: number[] = [];
    sequelize.iam.on('loginRefused', (r) => refusals.push(r.errno));
    try {
      await sequelize.query('SELECT 1');
      expect(sequelize.iam.stats().tokensSigned).toBe(1);

      fx.emulator.faults.rejectNextLogins(1);
      fx.emulator.faults.dropAllConnections();
      await settle();
      // No login retry inside a Sequelize connect: this query sees the refusal...
      await expect(sequelize.query('SELECT 1')).rejects.toMatchObject({ name: 'SequelizeAccessDeniedError' });
      expect(refusals).toEqual([1045]);
      // ...and the next one logs in with a freshly signed token.
      await sequelize.query('SELECT 1');
      expect(sequelize.iam.stats()).toMatchObject({ tokensSigned: 2, loginsRefused: 1 });
    } finally {
      await sequelize.close();
      fx.emulator.faults.reset();
    }
  });

  it("rides out a refused login with Sequelize's own retry, on a freshly signed token", async () => {
    const sequelize = createIamSequelize(iamOptionsFor(fx), {
      logging: false,
      pool: { max: 1 },
      retry: { max: 3, match: [AccessDeniedError] },
    });
    try {
      await sequelize.query('SELECT 1');
      fx.emulator.faults.rejectNextLogins(1);
      fx.emulator.faults.dropAllConnections();
      await settle();
      const [rows] = await sequelize.query('SELECT 2 AS two');
      expect(rows).toEqual([{ two: 2 }]);
      expect(sequelize.iam.stats()).toMatchObject({ tokensSigned: 2, loginsRefused: 1 });
    } finally {
      await sequelize.close();
      fx.emulator.faults.reset();
    }
  });

  it('refuses Sequelize options that would fight IAM login', () => {
    expect(() => createIamSequelize(iamOptionsFor(fx), { dialectOptions: { password: 'static' } })).toThrow(
      IamOptionsError,
    );
    expect(() => createIamSequelize({ ...iamOptionsFor(fx), retry: { retries: 2 } } as never)).toThrow(
      /retry/,
    );
  });
});
