import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { CACHE_DIR, REPO_ROOT } from './env.js';

/** The child scripts that run in fresh `node` processes (throughput, cold start, memory). */
export const CHILD_SCRIPTS = [
  'throughput',
  'import-time',
  'first-query',
  'memory',
  'offline-guard',
  'hot-path',
  'canned-server',
] as const;
export type ChildScript = (typeof CHILD_SCRIPTS)[number];

/**
 * Builds the package's main entry with the repository's own tsup config (ESM, as `dist/index.js`
 * ships) into the benchmark cache, and returns its path. Declarations and source maps are skipped:
 * they do not change what `import` loads.
 */
export function buildPackageEntry(): string {
  const outDir = join(CACHE_DIR, 'package');
  const result = spawnSync(
    join(REPO_ROOT, 'node_modules/.bin/tsup'),
    ['src/index.ts', '--format', 'esm', '--out-dir', outDir, '--no-dts', '--no-sourcemap', '--silent'],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`tsup failed:\n${result.stderr}${result.stdout}`);
  return join(outDir, 'index.js');
}

/**
 * Compiles the child scripts to plain ESM for `node` (no TypeScript loader in the measured
 * process). Packages stay external, resolved from node_modules exactly as an application would.
 */
export async function compileChildScripts(): Promise<Record<ChildScript, string>> {
  const outdir = join(CACHE_DIR, 'children');
  await build({
    entryPoints: CHILD_SCRIPTS.map((name) => join(REPO_ROOT, 'bench/children', `${name}.ts`)),
    outdir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    logLevel: 'warning',
  });
  return Object.fromEntries(CHILD_SCRIPTS.map((name) => [name, join(outdir, `${name}.mjs`)])) as Record<
    ChildScript,
    string
  >;
}
