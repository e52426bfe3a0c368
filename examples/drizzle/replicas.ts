/**
 * `npm run example:drizzle:replicas`: Drizzle's withReplicas on an Aurora cluster, against the local
 * RDS IAM emulator's cluster (a writer and 3 readers). Writes go to the writer; reads through the
 * reader pool land on the readers, spread evenly.
 */
import { asc, sql } from 'drizzle-orm';
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core';
import { createIamDrizzleCluster } from '../../src/adapters/drizzle.js';
import { startLocalAurora } from '../shared/local-rds.js';

const notes = mysqlTable('notes', {
  id: int('id').primaryKey().autoincrement(),
  body: varchar('body', { length: 100 }).notNull(),
});
type Where = { id: string; ro: number };
const where = sql`SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro`;

const aurora = await startLocalAurora('drizzle_replicas');
// On Aurora: createIamDrizzleCluster({ host: '<name>.cluster-<id>.<region>.rds.amazonaws.com', user: 'app_iam', database: 'app' }, { schema: { notes }, mode: 'default' })
const db = createIamDrizzleCluster(
  { ...aurora.iamOptions, connectionLimit: 6 },
  { schema: { notes }, mode: 'default' },
);

try {
  // execute(), insert(), update(), delete() and transaction() run on the writer.
  await db.execute(sql`CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, body VARCHAR(100) NOT NULL)`);
  await db.insert(notes).values([{ body: 'first' }, { body: 'second' }]);
  const [onWriter] = (await db.execute(where))[0] as unknown as Where[];
  console.log(`drizzle: wrote on the writer ${onWriter?.id} (read-only: ${onWriter?.ro})`);

  // select(), $count(), with() and db.query run on the reader pool; $replicas[0] is its database.
  const [onReader] = (await db.$replicas[0].execute(where))[0] as unknown as Where[];
  const before = aurora.queriesByInstance();
  const reads = await Promise.all(
    Array.from({ length: 6 }, () =>
      db.select({ body: notes.body, pause: sql`SLEEP(0.2)` }).from(notes).orderBy(asc(notes.id)),
    ),
  );
  console.log(
    `drizzle: read ${reads[0]?.map((r) => r.body).join(', ')} on the readers ` +
      `${aurora.instancesThatRan(before).join(', ')} (read-only: ${onReader?.ro})`,
  );
  const spread = db.$cluster.stats().reader.connectionsByInstance ?? {};
  console.log(`drizzle: reader connections per instance: ${Object.values(spread).join(', ')}`);
} finally {
  await db.$cluster.end();
  await aurora.stop();
}
