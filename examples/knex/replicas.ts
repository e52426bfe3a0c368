/**
 * `npm run example:knex:replicas`: Knex on an Aurora cluster, against the local RDS IAM emulator's
 * cluster (a writer and 3 readers). Knex has no replica support: createIamKnexCluster gives a Knex
 * instance on the writer pool and one on the reader pool of one createIamCluster.
 */
import { createIamKnexCluster } from '../../src/adapters/knex.js';
import { startLocalAurora } from '../shared/local-rds.js';

type Where = { id: string; ro: number };
const WHERE = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

const aurora = await startLocalAurora('knex_replicas');
// On Aurora: createIamKnexCluster({ host: '<name>.cluster-<id>.<region>.rds.amazonaws.com', user: 'app_iam', database: 'app' })
const db = createIamKnexCluster({ ...aurora.iamOptions, connectionLimit: 6 });

try {
  await db.writer.schema.createTable('notes', (t) => {
    t.increments('id');
    t.string('body', 100).notNullable();
  });
  await db.writer('notes').insert([{ body: 'first' }, { body: 'second' }]);
  const [[onWriter]] = (await db.writer.raw(WHERE)) as [Where[]];
  console.log(`knex: wrote on the writer ${onWriter?.id} (read-only: ${onWriter?.ro})`);

  const [[onReader]] = (await db.reader.raw(WHERE)) as [Where[]];
  const before = aurora.queriesByInstance();
  const reads = await Promise.all(
    Array.from({ length: 6 }, () =>
      db.reader('notes').select('body', db.reader.raw('SLEEP(0.2) AS pause')).orderBy('id'),
    ),
  );
  console.log(
    `knex: read ${reads[0]?.map((r: { body: string }) => r.body).join(', ')} on the readers ` +
      `${aurora.instancesThatRan(before).join(', ')} (read-only: ${onReader?.ro})`,
  );
  const spread = db.cluster.stats().reader.connectionsByInstance ?? {};
  console.log(`knex: reader connections per instance: ${Object.values(spread).join(', ')}`);
} finally {
  await db.destroy(); // both Knex instances and both pools
  await aurora.stop();
}
