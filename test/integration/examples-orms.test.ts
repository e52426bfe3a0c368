import { describe, it } from 'vitest';
import { expectOrmExampleOutput, runExample } from './examples-shared.js';

// Each example starts its own emulator and creates (then drops) the database it is given.
describe.concurrent('the Sequelize and TypeORM examples run with one command', () => {
  it('examples/sequelize syncs, inserts, selects and signs once per refresh window', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('sequelize', 'rip_examples_sequelize');
    // Sequelize opens one extra connection, once, to read the server version.
    expectOrmExampleOutput(run, 'sequelize', [4, 7]);
  });

  it('examples/typeorm synchronizes, inserts, selects and signs once per refresh window', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('typeorm', 'rip_examples_typeorm');
    expectOrmExampleOutput(run, 'typeorm', [3, 6]);
  });
});
