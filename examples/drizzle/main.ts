/**
 * `npm run example:drizzle`: Drizzle ORM on an IAM pool, against the local RDS IAM emulator.
 * Creates a table, inserts, selects, then moves the clock 16 minutes: new connections log in with
 * one freshly signed token.
 */
import { asc, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { createIamDrizzle } from '../../src/adapters/drizzle.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';

const notes = mysqlTable('notes', {
  id: int('id').primaryKey().autoincrement(),
  body: varchar('body', { length: 100 }).notNull(),
});

const rds = await startLocalRds('drizzle');
// On RDS: createIamDrizzle({ host: '<endpoint>', user: 'app_iam', database: 'app' }, { schema: { notes }, mode: 'default' })
const db = createIamDrizzle(
  { ...rds.iamOptions, connectionLimit: 3 },
  { schema: { notes }, mode: 'default' },
);
const stats = () => db.$client.iam.stats();

try {
  await db.execute(sql`CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL)`);
  await db.insert(notes).values([{ body: 'first' }, { body: 'second' }]);
  const rows = await db.select().from(notes).orderBy(asc(notes.id));
  console.log(`drizzle: selected ${rows.map((r) => r.body).join(', ')}`);

  // Six slow queries at once, more than the pool's 3 connections: all 3 log in, on one token.
  await Promise.all(Array.from({ length: 6 }, () => db.execute(sql`SELECT SLEEP(0.2)`)));
  console.log(`tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`);

  rds.advanceClock(16 * MINUTES); // every token signed so far has expired
  rds.emulator.faults.dropAllConnections(); // force new logins
  await settle();
  await Promise.all(Array.from({ length: 6 }, () => db.execute(sql`SELECT SLEEP(0.2)`)));
  console.log(
    `16 minutes later: tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`,
  );
} finally {
  await db.$client.end();
  await rds.stop();
}
