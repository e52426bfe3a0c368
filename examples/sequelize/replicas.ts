/**
 * `npm run example:sequelize:replicas`: Sequelize replication on an Aurora cluster, against the local
 * RDS IAM emulator's cluster (a writer and 3 readers). Writes and transactions use Sequelize's write
 * pool, on the writer; SELECTs use its read pool, whose connections go to the reader instances evenly.
 */
import { DataTypes, QueryTypes } from 'sequelize';
import { createIamSequelizeCluster } from '../../src/adapters/sequelize.js';
import { startLocalAurora } from '../shared/local-rds.js';

type Where = { id: string; ro: number };
const WHERE = 'SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro';

const aurora = await startLocalAurora('sequelize_replicas');
// On Aurora: createIamSequelizeCluster({ host: '<name>.cluster-<id>.<region>.rds.amazonaws.com', user: 'app_iam', database: 'app' }, { pool: { max: 10 } })
const sequelize = createIamSequelizeCluster(aurora.iamOptions, { logging: false, pool: { max: 6 } });
const Note = sequelize.define(
  'Note',
  { body: { type: DataTypes.STRING(100), allowNull: false } },
  { tableName: 'notes', timestamps: false },
);

try {
  await sequelize.sync();
  await Note.bulkCreate([{ body: 'first' }, { body: 'second' }]);
  const [onWriter] = await sequelize.query<Where>(WHERE, { type: QueryTypes.SELECT, useMaster: true });
  console.log(`sequelize: wrote on the writer ${onWriter?.id} (read-only: ${onWriter?.ro})`);

  const [onReader] = await sequelize.query<Where>(WHERE, { type: QueryTypes.SELECT });
  const before = aurora.queriesByInstance();
  const reads = await Promise.all(
    Array.from({ length: 6 }, () =>
      Note.findAll({
        attributes: ['body', [sequelize.literal('SLEEP(0.2)'), 'pause']],
        order: [['id', 'ASC']],
        raw: true,
      }),
    ),
  );
  console.log(
    `sequelize: read ${reads[0]?.map((r) => (r as unknown as { body: string }).body).join(', ')} on the readers ` +
      `${aurora.instancesThatRan(before).join(', ')} (read-only: ${onReader?.ro})`,
  );
  const spread = sequelize.iam.stats().connectionsByInstance;
  console.log(`sequelize: reader connections per instance: ${Object.values(spread).join(', ')}`);
} finally {
  await sequelize.close();
  await aurora.stop();
}
