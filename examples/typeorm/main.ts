/**
 * `npm run example:typeorm`: TypeORM on an IAM pool, against the local RDS IAM emulator.
 * Synchronizes an entity, inserts, selects, then moves the clock 16 minutes: new connections log
 * in with one freshly signed token.
 */
import { EntitySchema } from 'typeorm';
import { createIamDataSource } from '../../src/adapters/typeorm.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';

interface Note {
  id: number;
  body: string;
}
const NoteEntity = new EntitySchema<Note>({
  name: 'Note',
  tableName: 'notes',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    body: { type: String, length: 100 },
  },
});

const rds = await startLocalRds('typeorm');
// On RDS: createIamDataSource({ host: '<endpoint>', user: 'app_iam', database: 'app' }, { type: 'mysql', entities: [...] })
const dataSource = createIamDataSource(
  { ...rds.iamOptions, connectionLimit: 3 },
  { type: 'mariadb', entities: [NoteEntity], synchronize: true },
);
await dataSource.initialize();
const notes = dataSource.getRepository(NoteEntity);
const stats = () => dataSource.iam.stats();

try {
  await notes.save([{ body: 'first' }, { body: 'second' }]);
  const rows = await notes.find({ order: { id: 'ASC' } });
  console.log(`typeorm: selected ${rows.map((r) => r.body).join(', ')}`);

  // Six slow queries at once, more than the pool's 3 connections: all 3 log in, on one token.
  await Promise.all(Array.from({ length: 6 }, () => dataSource.query('SELECT SLEEP(0.2)')));
  console.log(`tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`);

  rds.advanceClock(16 * MINUTES); // every token signed so far has expired
  rds.emulator.faults.dropAllConnections(); // force new logins
  await settle();
  await Promise.all(Array.from({ length: 6 }, () => dataSource.query('SELECT SLEEP(0.2)')));
  console.log(
    `16 minutes later: tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`,
  );
} finally {
  await dataSource.destroy(); // ends the IAM pool
  await rds.stop();
}
