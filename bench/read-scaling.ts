/**
 * `npx tsx bench/read-scaling.ts`: only the read-scaling rows (the section `npm run bench` also
 * runs, in bench/sections/read-scaling.ts): read throughput with 3 readers through the reader pool
 * against one pool on the reader endpoint, and the topology monitor of an idle cluster object.
 * Prints the rows; writes nothing.
 *
 *   npx tsx bench/read-scaling.ts           5 rounds of 2 s per variant and kind of read, 25 s idle per case
 *   npx tsx bench/read-scaling.ts --quick   1 round of 1 s, 6 s idle per case
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { buildPackageEntry } from './lib/build.js';
import type { BenchContext } from './lib/context.js';
import { createBenchDatabase, dropBenchDatabase } from './lib/database.js';
import type { PackageEntry } from './lib/pools.js';
import { textTable } from './lib/report.js';
import { readScaling } from './sections/read-scaling.js';

const quick = process.argv.includes('--quick');
const log = (text: string) => console.log(text);
log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; building the package entry`,
);
const entry = (await import(pathToFileURL(buildPackageEntry()).href)) as PackageEntry;
const backend = await createBenchDatabase();
try {
  // Only what the section reads: it starts its own (cluster) emulators.
  const ctx = { entry, backend, quick, log } as Omit<
    BenchContext,
    'runner' | 'children' | 'emulator' | 'staticToken'
  > as BenchContext;
  const rows = await readScaling(ctx);
  console.log(`\n${textTable(rows)}`);
  for (const row of rows) if (row.detail) console.log(`${row.metric}: ${JSON.stringify(row.detail)}`);
  log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await dropBenchDatabase(backend);
}
