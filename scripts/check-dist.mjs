// Checks on the built package, run after `npm run build` by `npm run check:package`:
// the main entry stays light, and every subpath shares one copy of the core.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const failures = [];

const esm = await import('rds-iam-pool');
const { createIamDrizzle } = await import('rds-iam-pool/adapters/drizzle');
try {
  createIamDrizzle({ host: 'db.example.com', user: 'u' }); // no region: throws IamOptionsError
  failures.push('createIamDrizzle accepted options without a region');
} catch (err) {
  if (!(err instanceof esm.IamAuthError))
    failures.push('ESM: an adapter error is not an instance of IamAuthError');
}

const cjs = require('rds-iam-pool');
const { createIamKnex } = require('rds-iam-pool/adapters/knex');
try {
  createIamKnex({ host: 'db.example.com', user: 'u' });
  failures.push('createIamKnex accepted options without a region');
} catch (err) {
  if (!(err instanceof cjs.IamAuthError))
    failures.push('CJS: an adapter error is not an instance of IamAuthError');
}

// Every exported class keeps its name in both builds: `err.name`, `String(err)` and a stack trace say
// `IamOptionsError`, not a name the bundler made up (`_IamOptionsError`, as before tsup's keepNames).
const manifestExports = require('../package.json').exports;
for (const [subpath, conditions] of Object.entries(manifestExports)) {
  if (typeof conditions !== 'object' || subpath === './cli') continue; // the CLI entry is checked below
  const specifier = `rds-iam-pool${subpath.slice(1)}`;
  for (const [format, mod] of [
    ['ESM', await import(specifier)],
    ['CJS', require(specifier)],
  ]) {
    for (const [exported, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !/^class\b/.test(Function.prototype.toString.call(value))) continue;
      if (value.name !== exported)
        failures.push(`${format} ${specifier}: class ${exported} is named "${value.name}"`);
    }
  }
}
for (const [format, mod] of [
  ['ESM', esm],
  ['CJS', cjs],
]) {
  const err = new mod.IamOptionsError('host', 'is required', 'Pass host.');
  if (!String(err).startsWith('IamOptionsError: Invalid option'))
    failures.push(`${format}: an IamOptionsError prints as "${String(err)}"`);
}

// The main entry must not load the emulator, the CLI or an ORM (cold start): ask a fresh process.
const loaded = JSON.parse(
  execFileSync(
    process.execPath,
    ['-e', "require('rds-iam-pool'); console.log(JSON.stringify(Object.keys(require.cache)))"],
    {
      encoding: 'utf8',
    },
  ),
);
// Matched below the checkout, so a checkout that lives in a directory named `emulator` or `cli` passes.
const root = process.cwd();
const heavy = loaded.filter((path) =>
  /node-forge|[\\/]emulator[\\/]|[\\/]cli[\\/]|[\\/](knex|sequelize|typeorm|drizzle-orm|kysely|@aws-sdk)[\\/]/.test(
    path.startsWith(root) ? path.slice(root.length) : path,
  ),
);
if (heavy.length > 0) failures.push(`require('rds-iam-pool') loaded: ${heavy.slice(0, 3).join(', ')}`);

// `rds-iam-pool --version` reads our package.json at run time, from either build.
const { version } = require('../package.json');
for (const bin of ['../dist/cli/main.js', '../dist/cli/main.cjs']) {
  const file = fileURLToPath(new URL(bin, import.meta.url));
  const printed = execFileSync(process.execPath, [file, '--version'], { encoding: 'utf8' }).trim();
  if (printed !== version) failures.push(`${bin.slice(3)} --version printed "${printed}", not ${version}`);
}

// An application that installs rds-iam-pool gets no node-forge (only the emulator uses it) and no
// package that dist already bundles: `npm ls --omit=dev` of a consumer must not show them.
const manifest = require('../package.json');
if (manifest.dependencies?.['node-forge'] !== undefined) failures.push('node-forge is a dependency');
if (manifest.peerDependenciesMeta?.['node-forge']?.optional !== true) {
  failures.push('node-forge is not an optional peer dependency');
}
for (const bundled of ['p-retry', 'is-network-error']) {
  if (manifest.dependencies?.[bundled] !== undefined)
    failures.push(`${bundled} is bundled into dist and installed too`);
}

// No source maps (tsup.config.ts says why): neither a .map file nor a comment asking for one.
for (const entry of readdirSync('dist', { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const path = `${entry.parentPath ?? entry.path}/${entry.name}`;
  if (entry.name.endsWith('.map')) failures.push(`${path}: a source map in dist`);
  else if (/\.c?js$/.test(entry.name) && readFileSync(path, 'utf8').includes('//# sourceMappingURL='))
    failures.push(`${path} refers to a source map`);
}

if (failures.length > 0) {
  console.error(`check-dist: ${failures.length} problem(s)\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(
  'check-dist: adapters share the core; every exported class keeps its name; the main entry loads no emulator, CLI or ORM; both CLI builds print the version; no source maps',
);
