/**
 * `npm run bench`: rds-iam-pool against its alternatives, through the local RDS IAM emulator in
 * front of the real MariaDB. Prints every ratio, writes bench/results.json and bench/chart.svg,
 * and refreshes the table in docs/performance.md.
 *
 *   npm run bench              the full run (a few minutes; run it on a quiet machine)
 *   npm run bench -- --quick   a short pass to try the harness; writes nothing under bench/ or docs/
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildPackageEntry, compileChildScripts } from './lib/build.js';
import { ratioChart } from './lib/chart.js';
import type { BenchContext } from './lib/context.js';
import { createBenchDatabase, dropBenchDatabase } from './lib/database.js';
import { startEmulatorProcess } from './lib/emulator-process.js';
import { CACHE_DIR, CHART_FILE, IAM_USER, REPO_ROOT, RESULTS_FILE } from './lib/env.js';
import { type PackageEntry, presignStaticToken } from './lib/pools.js';
import {
  markdownTable,
  type ResultRow,
  type RunInfo,
  replaceBetweenMarkers,
  runInfoLine,
  textTable,
} from './lib/report.js';
import { handlerBundleSize } from './sections/bundle.js';
import { coldStart } from './sections/cold-start.js';
import { newConnectionCost } from './sections/connect.js';
import { hotPath } from './sections/hot-path.js';
import { memoryFootprint } from './sections/memory.js';
import { readScaling } from './sections/read-scaling.js';
import { signingCounts } from './sections/signing.js';
import { queryThroughput } from './sections/throughput.js';

const DOC_FILE = join(REPO_ROOT, 'docs/performance.md');
const quick = process.argv.includes('--quick');
/** The Node whose figures make the main table and bench/results.json; other majors get their own. */
const PRIMARY_NODE_MAJOR = 20;
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const started = performance.now();
const elapsed = () => (performance.now() - started) / 1000;
const log = (text: string) => console.log(`[${elapsed().toFixed(1).padStart(5)} s] ${text}`);
const loadBefore = loadavg()[0] ?? 0;
// Read before the run: others may commit while it runs, and the build took the tree as it was now.
const commit = gitCommit();

log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}; building the package entry and child scripts`,
);
const entryPath = buildPackageEntry();
const children = await compileChildScripts();
const entry = (await import(pathToFileURL(entryPath).href)) as PackageEntry;

const backend = await createBenchDatabase();
const emulator = await startEmulatorProcess(backend).catch(async (err: unknown) => {
  await dropBenchDatabase(backend);
  throw err;
});
log(`emulator on ${emulator.address.listenHost}:${emulator.address.port} for ${emulator.address.host}`);

let rows: ResultRow[] = [];
try {
  const staticToken = await presignStaticToken(emulator.address);
  const ctx: BenchContext = {
    entry,
    emulator,
    backend,
    staticToken,
    children,
    quick,
    log,
    runner: {
      guard: children['offline-guard'],
      config: {
        packageEntry: entryPath,
        emulator: emulator.address,
        iamUser: IAM_USER,
        database: backend.database,
        staticToken,
        backend,
      },
    },
  };
  rows = [
    ...queryThroughput(ctx),
    ...(await hotPath({ children, guard: children['offline-guard'], packageEntry: entryPath, quick, log })),
    ...(await newConnectionCost(ctx)),
    ...(await signingCounts(ctx)),
    ...(await readScaling(ctx)),
    ...coldStart(ctx),
    ...(await handlerBundleSize(ctx, entryPath)),
    ...memoryFootprint(ctx),
  ];
} finally {
  await emulator.stop();
  await dropBenchDatabase(backend);
}

const info: RunInfo = {
  date: new Date().toISOString(),
  commit,
  node: process.versions.node,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
  loadBefore,
  loadAfter: loadavg()[0] ?? 0,
  elapsedSeconds: elapsed(),
  quick,
};

console.log(`\n${textTable(rows)}\n`);
const missed = rows.filter((r) => r.target && !r.target.met);
console.log(
  missed.length === 0
    ? 'Every target met.'
    : `Targets missed: ${missed.map((r) => `${r.section} / ${r.metric} vs ${r.baseline}`).join('; ')}`,
);
console.log(runInfoLine(info));

const results = `${JSON.stringify({ run: info, rows }, null, 2)}\n`;
if (quick) {
  writeFileSync(join(CACHE_DIR, 'results.quick.json'), results);
  writeFileSync(join(CACHE_DIR, 'chart.quick.svg'), ratioChart(rows, info));
  log(`quick run: results in ${CACHE_DIR} (bench/ and docs/ untouched)`);
} else if (NODE_MAJOR === PRIMARY_NODE_MAJOR) {
  writeFileSync(RESULTS_FILE, results);
  writeFileSync(CHART_FILE, ratioChart(rows, info));
  const doc = readFileSync(DOC_FILE, 'utf8');
  const withTable = replaceBetweenMarkers(doc, 'bench-table', markdownTable(rows));
  writeFileSync(DOC_FILE, replaceBetweenMarkers(withTable, 'bench-run', runInfoLine(info)));
  log('wrote bench/results.json, bench/chart.svg and the table in docs/performance.md');
} else {
  // Another Node (22, 24: `PATH="$(.ci/node-runtime 24):$PATH" npm run bench`): its own results file
  // and its own table in docs/performance.md, so each Node's figures stay side by side.
  const file = RESULTS_FILE.replace(/\.json$/, `.node${NODE_MAJOR}.json`);
  writeFileSync(file, results);
  const doc = readFileSync(DOC_FILE, 'utf8');
  const withTable = replaceBetweenMarkers(doc, `bench-table-node${NODE_MAJOR}`, markdownTable(rows));
  writeFileSync(DOC_FILE, replaceBetweenMarkers(withTable, `bench-run-node${NODE_MAJOR}`, runInfoLine(info)));
  log(`wrote bench/results.node${NODE_MAJOR}.json and the Node ${NODE_MAJOR} table in docs/performance.md`);
}
log(`done in ${elapsed().toFixed(0)} s`);

/** The commit measured, and whether src/ had uncommitted changes (the build takes the working tree). */
function gitCommit(): string {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' + uncommitted src/ changes' : ''}`;
}
