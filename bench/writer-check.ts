/**
 * `npx tsx bench/writer-check.ts`: only the cost of `verifyWriter` per new login (the section
 * `npm run bench` also runs, in bench/sections/connect.ts), for a focused look without the whole
 * benchmark. Prints the rows; writes nothing.
 *
 *   npx tsx bench/writer-check.ts           60 alternating pairs of bursts per shape, 100 checks
 *   npx tsx bench/writer-check.ts --quick   10 pairs, 20 checks
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { buildPackageEntry } from './lib/build.js';
import type { BenchContext } from './lib/context.js';
import { createBenchDatabase, dropBenchDatabase } from './lib/database.js';
import { startEmulatorProcess } from './lib/emulator-process.js';
import { type PackageEntry, presignStaticToken } from './lib/pools.js';
import { textTable } from './lib/report.js';
import { writerCheckCost } from './sections/connect.js';

const quick = process.argv.includes('--quick');
const log = (text: string) => console.log(text);
log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; building the package entry`,
);
const entry = (await import(pathToFileURL(buildPackageEntry()).href)) as PackageEntry;
const backend = await createBenchDatabase();
const emulator = await startEmulatorProcess(backend);
try {
  // Only what the section reads; the child-process runner is not needed here.
  const ctx = {
    entry,
    emulator,
    backend,
    staticToken: await presignStaticToken(emulator.address),
    quick,
    log,
  } as Omit<BenchContext, 'runner' | 'children'> as BenchContext;
  console.log(`\n${textTable(await writerCheckCost(ctx))}`);
  log(
    `load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await emulator.stop();
  await dropBenchDatabase(backend);
}
