/**
 * Does Node's module compile cache (Node 22.1+: `module.enableCompileCache()` or `NODE_COMPILE_CACHE`)
 * shorten a cold start with rds-iam-pool? Builds the package, then runs the built `dist/index.js` in
 * fresh `node` processes, the same children as `npm run bench`'s cold-start section (credentials from
 * the environment, the local RDS IAM emulator in front of MariaDB, an offline guard), three ways,
 * interleaved:
 *
 *   off    no compile cache (the default)
 *   empty  the cache enabled on an empty directory: what every Lambda cold start gets from a cache
 *          directory under /tmp, which starts empty in each new execution environment
 *   warm   the cache enabled on a directory an earlier run filled: a cache that ships with the code
 *          (deployment package, container image) or a host whose /tmp outlives the process
 *
 *   npx tsx bench/compile-cache.ts                                          # the machine's Node
 *   PATH="$(.ci/node-runtime 24):$PATH" npx tsx bench/compile-cache.ts      # Node 24 (22 likewise)
 *   npx tsx bench/compile-cache.ts --rounds 5                               # fewer processes
 *
 * Prints one Markdown table row per measure; docs/lambda.md quotes them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compileChildScripts } from './lib/build.js';
import { createBenchDatabase, dropBenchDatabase } from './lib/database.js';
import { startEmulatorProcess } from './lib/emulator-process.js';
import { IAM_USER, REPO_ROOT } from './lib/env.js';
import { presignStaticToken } from './lib/pools.js';
import { type ChildRunner, interleaved, runChild } from './lib/spawn.js';
import { pairedRatio, type Summary, summarize } from './lib/stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) {
  console.error(
    `Node ${process.version} has no module compile cache (Node 22.1+); run this on Node 22 or 24`,
  );
  process.exit(2);
}

const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO_ROOT, encoding: 'utf8' });
if (built.status !== 0) throw new Error(`npm run build failed:\n${built.stderr}${built.stdout}`);
const packageEntry = join(REPO_ROOT, 'dist/index.js');
const children = await compileChildScripts();

const backend = await createBenchDatabase();
const emulator = await startEmulatorProcess(backend).catch(async (err: unknown) => {
  await dropBenchDatabase(backend);
  throw err;
});
const loadBefore = loadavg()[0] ?? 0;
const scratch = mkdtempSync(join(tmpdir(), 'rds-iam-pool-compile-cache-'));

try {
  const runner: ChildRunner = {
    guard: children['offline-guard'],
    config: {
      packageEntry,
      emulator: emulator.address,
      iamUser: IAM_USER,
      database: backend.database,
      staticToken: await presignStaticToken(emulator.address),
      backend,
    },
  };

  // Enabled the way an application would, before its first import (a preload, like NODE_OPTIONS=--import).
  const enableCache = (dir: string) => [
    '--import',
    `data:text/javascript,import m from 'node:module'; m.enableCompileCache(${JSON.stringify(dir)});`,
  ];
  const warmDir = join(scratch, 'warm');
  runChild(runner, children['import-time'], ['ours'], enableCache(warmDir));
  runChild(runner, children['first-query'], ['ours'], enableCache(warmDir));
  const cachedFiles = readdirSync(warmDir, { recursive: true }).length;

  type Variant = 'off' | 'empty' | 'warm';
  const variants: Variant[] = ['off', 'empty', 'warm'];
  let emptyDirs = 0;
  const nodeArgs = (v: Variant): string[] => {
    if (v === 'off') return [];
    if (v === 'warm') return enableCache(warmDir);
    return enableCache(join(scratch, `empty-${emptyDirs++}`));
  };
  const timed = <T>(run: () => T): T & { processMs: number } => {
    const start = performance.now();
    const result = run();
    return { ...result, processMs: performance.now() - start };
  };

  const imports = interleaved(variants, rounds, (v) =>
    timed(() => runChild<{ importMs: number }>(runner, children['import-time'], ['ours'], nodeArgs(v))),
  );
  const queries = interleaved(variants, rounds, (v) =>
    timed(() =>
      runChild<{ importMs: number; firstQueryMs: number }>(
        runner,
        children['first-query'],
        ['ours'],
        nodeArgs(v),
      ),
    ),
  );

  const ms = (s: Summary) => `${s.median.toFixed(1)} ms`;
  const ratio = (s: Summary) => `${s.median.toFixed(2)}x (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
  const row = (measure: string, pick: (v: Variant) => number[]) => {
    const [off, empty, warm] = variants.map(pick) as [number[], number[], number[]];
    return `| ${process.version} | ${measure} | ${ms(summarize(off))} | ${ms(summarize(empty))}, ${ratio(
      pairedRatio(empty, off),
    )} | ${ms(summarize(warm))}, ${ratio(pairedRatio(warm, off))} |`;
  };
  console.log(
    `\n${new Date().toISOString()}, Node ${process.version}, ${rounds} processes per variant and measure, ` +
      `load average ${loadBefore.toFixed(2)} before / ${(loadavg()[0] ?? 0).toFixed(2)} after; ` +
      `the warm cache holds ${cachedFiles} files\n`,
  );
  console.log('| Node | measure (median) | off | empty cache (vs off) | warm cache (vs off) |');
  console.log('| --- | --- | --- | --- | --- |');
  console.log(row('`import` of dist/index.js', (v) => imports[v].map((r) => r.importMs)));
  console.log(row('process: start to exit, `import` only', (v) => imports[v].map((r) => r.processMs)));
  console.log(row('import to first query answered', (v) => queries[v].map((r) => r.firstQueryMs)));
  console.log(row('process: start to exit, first query', (v) => queries[v].map((r) => r.processMs)));
} finally {
  rmSync(scratch, { recursive: true, force: true });
  await emulator.stop();
  await dropBenchDatabase(backend);
}
