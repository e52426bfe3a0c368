/**
 * A reader's (or user's) project outside this repository, with `rds-iam-pool` installed from
 * `npm pack` of the current build: shared by scripts/check-docs.ts (the docs' code blocks) and
 * scripts/check-latest.ts (the adapters beside the latest ORM releases). Nothing resolves from our
 * node_modules there, so `files`, `exports` and the dependency ranges are what a user gets.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const SELF = 'rds-iam-pool';

/** A directory in the system temp directory, one per checkout (two checkouts never share it). */
export function consumerDir(purpose: string): string {
  const checkout = createHash('sha256').update(ROOT).digest('hex').slice(0, 8);
  return join(tmpdir(), `rds-iam-pool-${purpose}-${checkout}`);
}

/** TypeScript 5.9's `tsc --init`, minus what only matters for emitting a library; `types: ["node"]`. */
export const COMPILER_OPTIONS = {
  module: 'nodenext',
  target: 'es2022',
  types: ['node'],
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  strict: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  noUncheckedSideEffectImports: true,
  moduleDetection: 'force',
  skipLibCheck: true,
  noEmitOnError: false,
};

/** The consumer would resolve packages from a node_modules above it: refuse, naming the directory. */
export function assertNothingResolvesFromAbove(dir: string): void {
  for (let up = dirname(dir); ; up = dirname(up)) {
    if (existsSync(join(up, 'node_modules'))) {
      throw new Error(`${up}/node_modules exists: the consumer project in ${dir} would resolve from it`);
    }
    if (dirname(up) === up) break;
  }
}

/** `npm pack` of the current build into `dir`, as `rds-iam-pool.tgz`; returns its path. */
export function packInto(dir: string): string {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('no dist/: run `npm run build` first');
  mkdirSync(dir, { recursive: true });
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const tarball = join(dir, 'rds-iam-pool.tgz');
  renameSync(join(dir, filename), tarball);
  return tarball;
}

/** Replaces node_modules/rds-iam-pool with the tarball's contents, without asking npm. */
export function swapInPackage(dir: string, tarball: string): void {
  const unpacked = join(dir, '.unpacked');
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  rmSync(join(dir, 'node_modules', SELF), { recursive: true, force: true });
  renameSync(join(unpacked, 'package'), join(dir, 'node_modules', SELF));
  rmSync(unpacked, { recursive: true, force: true });
}

/** Whether the install recorded in `dir` was made for `key` (the packages, versions and Node it needs). */
export function installedFor(dir: string, key: string): boolean {
  const keyFile = join(dir, '.install-key');
  return existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key;
}

export function installKeyFile(dir: string): string {
  return join(dir, '.install-key');
}

/** A stable key for an install: the JSON of what it depends on, plus the Node major it ran on. */
export function installKey(parts: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...parts, node: process.versions.node.split('.')[0] }))
    .digest('hex');
}

/** The version of a package installed in this repository's node_modules (the one we test with). */
export function repoVersionOf(name: string): string | undefined {
  const manifest = join(ROOT, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) return undefined;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** `tsc -p <tsconfig>` with this repository's TypeScript; resolves to its output ('' when it compiled). */
export function runTsc(cwd: string, tsconfig: string): string {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'lib', 'tsc.js');
  try {
    execFileSync(process.execPath, [tsc, '-p', tsconfig, '--pretty', 'false'], { cwd, encoding: 'utf8' });
    return '';
  } catch (err) {
    return (err as { stdout?: string }).stdout || String(err);
  }
}
