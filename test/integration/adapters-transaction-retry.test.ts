/**
 * The retry loop docs/orms.md shows for ORM transactions, on real ORM errors: each ORM wraps the
 * mysql2 error its own way (Drizzle's cause, Sequelize's parent, TypeORM's driverError), and
 * isSafeToRetry sees through each. A deadlock (1213, raised here with SIGNAL) runs the transaction
 * again, once, and it commits once; a duplicate key fails at once.
 */
import { sql as drizzleSql } from 'drizzle-orm';
import { Kysely, sql as kyselySql } from 'kysely';
import { QueryTypes } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIamDrizzle } from '../../src/adapters/drizzle.js';
import { createIamKnex } from '../../src/adapters/knex.js';
import { IamMysqlDialect } from '../../src/adapters/kysely.js';
import { createIamSequelize } from '../../src/adapters/sequelize.js';
import { createIamDataSource } from '../../src/adapters/typeorm.js';
import { isSafeToRetry, requestOutcome } from '../../src/index.js';
import { createEmulatorFixture, type EmulatorFixture } from '../helpers/emulator-harness.js';
import { iamOptionsFor } from './adapters-shared.js';

/** docs/orms.md, "Retrying a transaction": the loop, verbatim. */
async function retrying<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (attempt === attempts || !isSafeToRetry(error)) throw error;
    }
  }
}

const DEADLOCK =
  "SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'Deadlock found when trying to get lock; try restarting transaction'";

let fx: EmulatorFixture;
beforeAll(async () => {
  fx = await createEmulatorFixture({ name: 'transaction_retry' });
});
afterAll(async () => {
  await fx?.teardown();
});

/**
 * Runs `insert(id, deadlockFirst)` through `retrying` twice: a transaction whose first attempt hits a
 * deadlock after its insert (rolled back, run again, committed once), then the same id again (a
 * duplicate key: thrown at once, after one attempt). `count(id)` reads the committed rows.
 */
async function expectRetriedOnlyWhenSafe(
  id: number,
  transaction: (id: number, deadlock: boolean) => Promise<unknown>,
  count: (id: number) => Promise<number>,
): Promise<void> {
  let attempts = 0;
  await retrying(() => transaction(id, ++attempts === 1));
  expect(attempts).toBe(2);
  expect(await count(id)).toBe(1);

  attempts = 0;
  const duplicate = await retrying(() => transaction(id, ++attempts === 0)).catch((e: unknown) => e);
  expect(attempts).toBe(1);
  expect(requestOutcome(duplicate)).toBe('answered');
  expect(isSafeToRetry(duplicate)).toBe(false);
  expect(await count(id)).toBe(1);
}

describe('retrying ORM transactions with isSafeToRetry', () => {
  it('Drizzle (db.transaction; errors wrapped in DrizzleQueryError.cause)', async () => {
    const db = createIamDrizzle(iamOptionsFor(fx));
    try {
      await expectRetriedOnlyWhenSafe(
        10,
        (id, deadlock) =>
          db.transaction(async (tx) => {
            await tx.execute(drizzleSql`INSERT INTO items VALUES (${id}, 'drizzle')`);
            if (deadlock) await tx.execute(drizzleSql.raw(DEADLOCK));
          }),
        async (id) => {
          const [rows] = await db.execute(drizzleSql`SELECT COUNT(*) AS n FROM items WHERE id = ${id}`);
          return Number((rows as unknown as Array<{ n: number }>)[0]?.n);
        },
      );
    } finally {
      await db.$client.end();
    }
  });

  it('Kysely (db.transaction().execute; mysql2 errors as they are)', async () => {
    const db = new Kysely<{ items: { id: number; name: string } }>({
      dialect: new IamMysqlDialect(iamOptionsFor(fx)),
    });
    try {
      await expectRetriedOnlyWhenSafe(
        20,
        (id, deadlock) =>
          db.transaction().execute(async (trx) => {
            await trx.insertInto('items').values({ id, name: 'kysely' }).execute();
            if (deadlock) await kyselySql.raw(DEADLOCK).execute(trx);
          }),
        async (id) => {
          const row = await db
            .selectFrom('items')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('id', '=', id)
            .executeTakeFirst();
          return Number(row?.n);
        },
      );
    } finally {
      await db.destroy();
    }
  });

  it('Knex (db.transaction; mysql2 errors as they are)', async () => {
    const db = createIamKnex(iamOptionsFor(fx));
    try {
      await expectRetriedOnlyWhenSafe(
        30,
        (id, deadlock) =>
          db.transaction(async (trx) => {
            await trx('items').insert({ id, name: 'knex' });
            if (deadlock) await trx.raw(DEADLOCK);
          }),
        async (id) => Number((await db('items').where({ id }).count({ n: '*' }))[0]?.n),
      );
    } finally {
      await db.destroy();
    }
  });

  it('Sequelize (sequelize.transaction; errors wrapped with parent and original)', async () => {
    const sequelize = createIamSequelize(iamOptionsFor(fx), { logging: false });
    try {
      await expectRetriedOnlyWhenSafe(
        40,
        (id, deadlock) =>
          sequelize.transaction(async (transaction) => {
            await sequelize.query(`INSERT INTO items VALUES (${id}, 'sequelize')`, { transaction });
            if (deadlock) await sequelize.query(DEADLOCK, { transaction });
          }),
        async (id) => {
          const [row] = await sequelize.query<{ n: number }>(
            `SELECT COUNT(*) AS n FROM items WHERE id = ${id}`,
            {
              type: QueryTypes.SELECT,
            },
          );
          return Number(row?.n);
        },
      );
    } finally {
      await sequelize.close();
    }
  });

  it('TypeORM (dataSource.transaction; errors wrapped in QueryFailedError.driverError)', async () => {
    const dataSource = createIamDataSource(iamOptionsFor(fx), { type: 'mariadb' });
    await dataSource.initialize();
    try {
      await expectRetriedOnlyWhenSafe(
        50,
        (id, deadlock) =>
          dataSource.transaction(async (manager) => {
            await manager.query('INSERT INTO items VALUES (?, ?)', [id, 'typeorm']);
            if (deadlock) await manager.query(DEADLOCK);
          }),
        async (id) =>
          Number((await dataSource.query('SELECT COUNT(*) AS n FROM items WHERE id = ?', [id]))[0]?.n),
      );
    } finally {
      await dataSource.destroy();
    }
  });
});
