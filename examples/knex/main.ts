/**
 * `npm run example:knex`: Knex on an IAM pool, against the local RDS IAM emulator.
 * Creates a table, inserts, selects, then moves the clock 16 minutes: new connections log in with
 * one freshly signed token.
 */
import { createIamKnex } from '../../src/adapters/knex.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';

const rds = await startLocalRds('knex');
// On RDS: createIamKnex({ host: '<endpoint>', user: 'app_iam', database: 'app', connectionLimit: 10 })
const db = createIamKnex({ ...rds.iamOptions, connectionLimit: 3 });
const stats = () => db.iam.stats();

try {
  await db.schema.createTable('notes', (t) => {
    t.increments('id');
    t.string('body', 100).notNullable();
  });
  await db('notes').insert([{ body: 'first' }, { body: 'second' }]);
  const rows: Array<{ body: string }> = await db('notes').select('body').orderBy('id');
  console.log(`knex: selected ${rows.map((r) => r.body).join(', ')}`);

  // Six slow queries at once, more than the pool's 3 connections: all 3 log in, on one token.
  await Promise.all(Array.from({ length: 6 }, () => db.raw('SELECT SLEEP(0.2)')));
  console.log(`tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`);

  rds.advanceClock(16 * MINUTES); // every token signed so far has expired
  rds.emulator.faults.dropAllConnections(); // force new logins
  await settle();
  await Promise.all(Array.from({ length: 6 }, () => db.raw('SELECT SLEEP(0.2)')));
  console.log(
    `16 minutes later: tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`,
  );
} finally {
  await db.destroy(); // ends the IAM pool
  await rds.stop();
}
