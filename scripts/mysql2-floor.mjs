// Runs the unit and integration suites against the lowest mysql2 that package.json allows, so a
// user whose lockfile holds that version gets what we test (`.ci/run` calls it after `npm test`,
// which covers the locked version).
//
//   node scripts/mysql2-floor.mjs                    # the floor of dependencies.mysql2
//   node scripts/mysql2-floor.mjs --version 3.23.3   # any other version, to find out whether it passes
//   node scripts/mysql2-floor.mjs --keep             # keep the temporary copy for a look afterwards
//   node scripts/mysql2-floor.mjs -- test/unit       # other vitest arguments (default: test/integration test/unit)
//
// The checkout is never touched: the tracked and untracked (not ignored) files and node_modules are
// copied to a temporary directory, mysql2 is installed there with `npm install --no-save`, and the
// suites run in that copy. The floor is the lowest published version inside the range (asked of the
// registry with `npm view`), not a version computed from the range text. Exits with vitest's code.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { copyCheckout } from './checkout-copy.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values, positionals } = parseArgs({
  options: { version: { type: 'string' }, keep: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const vitestArgs = positionals.length > 0 ? positionals : ['test/integration', 'test/unit'];

const range = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies?.mysql2;
if (typeof range !== 'string') fail('package.json has no dependencies.mysql2');
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const locked = lock.packages?.['node_modules/mysql2']?.version ?? 'not in package-lock.json';
const version = values.version ?? lowestPublished(range);
console.log(`mysql2: range "${range}", locked ${locked}, testing ${version}`);

const copy = mkdtempSync(join(tmpdir(), 'rds-iam-pool-mysql2-'));
try {
  copyCheckout(ROOT, copy);
  npm(copy, ['install', `mysql2@${version}`, '--no-save', '--no-audit', '--no-fund']);
  // Every package that uses mysql2 (drizzle-orm and typeorm too) must now get this version.
  // (`npm ls` exits 1 on a peer range mismatch but still prints the tree.)
  const listed = spawnSync('npm', ['ls', 'mysql2', '--all', '--json'], { cwd: copy, encoding: 'utf8' });
  const seen = new Set();
  collectVersions(JSON.parse(listed.stdout), seen);
  if (seen.size !== 1 || !seen.has(version))
    throw new Error(`expected only mysql2 ${version} in the copy, found ${[...seen].join(', ') || 'none'}`);
  console.log(`mysql2 ${version} installed in ${copy}; vitest run ${vitestArgs.join(' ')}`);
  const run = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...vitestArgs], {
    cwd: copy,
    stdio: 'inherit',
  });
  const code = run.status ?? 1;
  console.log(`mysql2 ${version}: ${code === 0 ? 'passed' : `FAILED (vitest exit ${code})`}`);
  process.exitCode = code;
} catch (err) {
  console.error(`mysql2-floor: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (values.keep) console.log(`kept ${copy}`);
  else rmSync(copy, { recursive: true, force: true });
}

/** The lowest version the registry has inside `range` (`npm view` lists them; prereleases never match). */
function lowestPublished(spec) {
  const listed = JSON.parse(npmOutput(ROOT, ['view', `mysql2@${spec}`, 'version', '--json']));
  const versions = (Array.isArray(listed) ? listed : [listed]).filter((v) => typeof v === 'string');
  if (versions.length === 0) fail(`no published mysql2 matches "${spec}"`);
  const parts = (v) => v.split('.').map(Number);
  versions.sort((a, b) => {
    const [x, y] = [parts(a), parts(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  return versions[0];
}

function collectVersions(node, into) {
  for (const [name, dep] of Object.entries(node.dependencies ?? {})) {
    if (name === 'mysql2' && dep.version) into.add(dep.version);
    collectVersions(dep, into);
  }
}

function npm(cwd, args) {
  const result = spawnSync('npm', args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${result.status})`);
}

function npmOutput(cwd, args) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8' });
}

/** Before the temporary copy exists: report and stop. */
function fail(message) {
  console.error(`mysql2-floor: ${message}`);
  process.exit(1);
}
