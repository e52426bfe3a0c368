/**
 * `npm run example:kysely`: Kysely on an IAM pool, against the local RDS IAM emulator.
 * Creates a table, inserts, selects, then moves the clock 16 minutes: new connections log in with
 * one freshly signed token.
 */
import { Kysely, sql } from 'kysely';
import { IamMysqlDialect } from '../../src/adapters/kysely.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';

interface Database {
  notes: { id: number | undefined; body: string };
}

const rds = await startLocalRds('kysely');
// On RDS: new IamMysqlDialect({ host: '<endpoint>', user: 'app_iam', database: 'app' })
const dialect = new IamMysqlDialect({ ...rds.iamOptions, connectionLimit: 3 });
const db = new Kysely<Database>({ dialect });
const stats = () => dialect.iam.stats();

try {
  await db.schema
    .createTable('notes')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('body', 'varchar(100)', (c) => c.notNull())
    .execute();
  await db
    .insertInto('notes')
    .values([{ body: 'first' }, { body: 'second' }])
    .execute();
  const rows = await db.selectFrom('notes').select('body').orderBy('id').execute();
  console.log(`kysely: selected ${rows.map((r) => r.body).join(', ')}`);

  // Six slow queries at once, more than the pool's 3 connections: all 3 log in, on one token.
  await Promise.all(Array.from({ length: 6 }, () => sql`SELECT SLEEP(0.2)`.execute(db)));
  console.log(`tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`);

  rds.advanceClock(16 * MINUTES); // every token signed so far has expired
  rds.emulator.faults.dropAllConnections(); // force new logins
  await settle();
  await Promise.all(Array.from({ length: 6 }, () => sql`SELECT SLEEP(0.2)`.execute(db)));
  console.log(
    `16 minutes later: tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`,
  );
} finally {
  await db.destroy(); // ends the IAM pool
  await rds.stop();
}
