/**
 * `npm run example:typeorm:replicas`: TypeORM replication on an Aurora cluster, against the local RDS
 * IAM emulator's cluster (a writer and 3 readers). TypeORM's master is the writer pool and its slave
 * the reader pool: saves run on the writer, find() and SELECT query builders on the readers.
 */
import { EntitySchema } from 'typeorm';
import { createIamClusterDataSource } from '../../src/adapters/typeorm.js';
import { startLocalAurora } from '../shared/local-rds.js';

const Note = new EntitySchema<{ id: number; body: string }>({
  name: 'Note',
  tableName: 'notes',
  columns: {
    id: { type: Number, primary: true, generated: 'increment' },
    body: { type: String, length: 100 },
  },
});
type Where = { id: string; ro: string };
const WHERE = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

const aurora = await startLocalAurora('typeorm_replicas');
// On Aurora: createIamClusterDataSource({ host: '<name>.cluster-<id>.<region>.rds.amazonaws.com', user: 'app_iam', database: 'app' }, { type: 'mysql', entities: [Note] })
const dataSource = createIamClusterDataSource(
  { ...aurora.iamOptions, connectionLimit: 6 },
  { type: 'mysql', entities: [Note], synchronize: true },
);

await dataSource.initialize();
try {
  const notes = dataSource.getRepository(Note);
  await notes.save([{ body: 'first' }, { body: 'second' }]);
  const [onWriter] = (await dataSource.query(WHERE)) as Where[]; // dataSource.query(): the master
  console.log(`typeorm: wrote on the writer ${onWriter?.id} (read-only: ${onWriter?.ro})`);

  const slave = dataSource.createQueryRunner('slave');
  const [onReader] = (await slave.query(WHERE).finally(() => slave.release())) as Where[];
  const before = aurora.queriesByInstance();
  const reads = await Promise.all(
    Array.from({ length: 6 }, () =>
      notes
        .createQueryBuilder('note')
        .select('note.body', 'body')
        .addSelect('SLEEP(0.2)', 'pause')
        .orderBy('note.id')
        .getRawMany<{ body: string }>(),
    ),
  );
  console.log(
    `typeorm: read ${reads[0]?.map((r) => r.body).join(', ')} on the readers ` +
      `${aurora.instancesThatRan(before).join(', ')} (read-only: ${onReader?.ro})`,
  );
  const spread = dataSource.iamCluster?.stats().reader.connectionsByInstance ?? {};
  console.log(`typeorm: reader connections per instance: ${Object.values(spread).join(', ')}`);
} finally {
  await dataSource.destroy(); // ends both pools
  await aurora.stop();
}
