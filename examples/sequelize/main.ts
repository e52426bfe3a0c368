/**
 * `npm run example:sequelize`: Sequelize with IAM login, against the local RDS IAM emulator.
 * Syncs a model, inserts, selects, then moves the clock 16 minutes: new connections log in with
 * one freshly signed token.
 */
import { DataTypes } from 'sequelize';
import { createIamSequelize } from '../../src/adapters/sequelize.js';
import { MINUTES, settle, startLocalRds } from '../shared/local-rds.js';

const rds = await startLocalRds('sequelize');
// On RDS: createIamSequelize({ host: '<endpoint>', user: 'app_iam', database: 'app' }, { pool: { max: 10 } })
const sequelize = createIamSequelize(rds.iamOptions, { logging: false, pool: { max: 3 } });
const Note = sequelize.define(
  'Note',
  { body: { type: DataTypes.STRING(100), allowNull: false } },
  { tableName: 'notes', timestamps: false },
);
const stats = () => sequelize.iam.stats();

try {
  await sequelize.sync();
  await Note.bulkCreate([{ body: 'first' }, { body: 'second' }]);
  const rows = await Note.findAll({ order: [['id', 'ASC']], raw: true });
  console.log(`sequelize: selected ${rows.map((r) => (r as unknown as { body: string }).body).join(', ')}`);

  await Promise.all(Array.from({ length: 6 }, () => Note.findAll()));
  console.log(`tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`);

  rds.advanceClock(16 * MINUTES); // every token signed so far has expired
  rds.emulator.faults.dropAllConnections(); // force new logins
  await settle();
  await Promise.all(Array.from({ length: 6 }, () => Note.findAll()));
  console.log(
    `16 minutes later: tokens signed: ${stats().tokensSigned}, connections opened: ${stats().connectionsOpened}`,
  );
} finally {
  await sequelize.close();
  await rds.stop();
}
