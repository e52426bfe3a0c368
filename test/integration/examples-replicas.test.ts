import { describe, expect, it } from 'vitest';
import { expectNoTokenInOutput, runScript } from './examples-shared.js';

// Each replicas example starts its own emulated Aurora cluster (a writer, 3 readers) and creates (then
// drops) the database and the account it is given. One at a time: each runs 4 DB instances.
describe('the ORM replica examples run with one command', () => {
  for (const orm of ['drizzle', 'kysely', 'knex', 'sequelize', 'typeorm']) {
    it(`examples/${orm}/replicas.ts writes on the writer and reads on the 3 readers, spread evenly`, {
      timeout: 60_000,
    }, async () => {
      const run = await runScript(`examples/${orm}/replicas.ts`, `rip_examples_${orm}_replicas`);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const [wrote, read, spread, ...rest] = run.stdout.trim().split('\n');
      expect(wrote).toBe(`${orm}: wrote on the writer mydb-instance-1 (read-only: 0)`);
      expect(read).toBe(
        `${orm}: read first, second on the readers mydb-instance-2, mydb-instance-3, mydb-instance-4 (read-only: 1)`,
      );
      // How many connections the reader pool opened for 6 reads at once depends on timing (a released
      // connection may serve the last read before a new login's turn); how they spread does not.
      const counts = /^\w+: reader connections per instance: (\d+), (\d+), (\d+)$/
        .exec(spread ?? '')
        ?.slice(1)
        .map(Number);
      expect(counts).toHaveLength(3);
      expect(Math.max(...(counts ?? [])) - Math.min(...(counts ?? []))).toBeLessThanOrEqual(1);
      expect(rest).toEqual([]);
      expectNoTokenInOutput(run);
    });
  }
});
