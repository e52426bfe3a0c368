import { describe, it } from 'vitest';
import { expectOrmExampleOutput, runExample } from './examples-shared.js';

// Each example starts its own emulator and creates (then drops) the database it is given.
describe.concurrent('the Drizzle, Kysely and Knex examples run with one command', () => {
  it('examples/drizzle creates, inserts, selects and signs once per refresh window', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('drizzle', 'rip_examples_drizzle');
    expectOrmExampleOutput(run, 'drizzle', [3, 6]);
  });

  it('examples/kysely creates, inserts, selects and signs once per refresh window', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('kysely', 'rip_examples_kysely');
    expectOrmExampleOutput(run, 'kysely', [3, 6]);
  });

  it('examples/knex creates, inserts, selects and signs once per refresh window', {
    timeout: 60_000,
  }, async () => {
    const run = await runExample('knex', 'rip_examples_knex');
    expectOrmExampleOutput(run, 'knex', [3, 6]);
  });
});
