/**
 * `npm run check:latest`: the packed package installs, without flags, into a project that already has
 * the latest release of every library it adapts, and each adapter works there against the emulator.
 *
 * 1. The registry is asked for the latest release of kysely, drizzle-orm, knex, sequelize, typeorm and
 *    node-forge. Where the latest does not support the running Node (its `engines`, as kysely 0.29 and
 *    Node 20), npm installs the newest release that does, and the check says so.
 * 2. A consumer project outside the repository gets those installed first (the install is cached,
 *    keyed by the versions and the Node major), then `npm install ./rds-iam-pool.tgz` with no flags:
 *    an optional peer range that excludes one of them fails here with npm's ERESOLVE. Every library
 *    must still be at its version afterwards.
 * 3. The ORM examples (examples/<orm>/main.ts, examples/shared/local-rds.ts), with their imports as a
 *    reader writes them, are compiled by tsc against those releases with strict consumer options, then
 *    run against the emulator in front of the local MariaDB (127.0.0.1:3306, root, empty password;
 *    MARIADB_* override it): each must select its rows, and sign once before and once after its
 *    16-minute jump, whatever the number of connections.
 * 4. Every adapter subpath is loaded from CommonJS too (`require`), and the emulator CLI is run the
 *    way a user runs it, through `npx`: the pid it reports is its own (not `npm exec`'s), SIGUSR2 to
 *    it starts a failover, and SIGTERM to it ends it and npx.
 * 5. The adapters' own test suites (test/integration/adapters-*.test.ts, and the emulator's
 *    certificate tests for node-forge) run in a temporary copy of this checkout with the same
 *    releases installed, instead of the versions the lockfile pins for development.
 *
 * `.ci/run` runs it on every Node it tests. Needs `npm run build` first and the npm registry.
 * Usage: `tsx scripts/check-latest.ts`; `--keep-going` runs every step after a failure.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { copyCheckout } from './checkout-copy.mjs';
import {
  assertNothingResolvesFromAbove,
  COMPILER_OPTIONS,
  consumerDir,
  installedFor,
  installKey,
  installKeyFile,
  packInto,
  ROOT,
  repoVersionOf,
  runTsc,
  SELF,
} from './consumer-project.js';
import { asInReadersProject, entrySpecifiers } from './docs-snippets.js';

/** The libraries rds-iam-pool adapts (its optional peers), and the adapter subpath of each. */
const LIBRARIES: Record<string, string | undefined> = {
  'drizzle-orm': 'adapters/drizzle',
  knex: 'adapters/knex',
  kysely: 'adapters/kysely',
  sequelize: 'adapters/sequelize',
  typeorm: 'adapters/typeorm',
  'node-forge': 'emulator',
};
/** Each ORM example and the name it prints first. */
const EXAMPLES = ['drizzle', 'kysely', 'knex', 'sequelize', 'typeorm'];
const CONSUMER =
  process.env.LATEST_CONSUMER_DIR ?? consumerDir(`latest-node${process.versions.node.split('.')[0]}`);
const RUN_TIMEOUT_MS = 90_000;

interface Chosen {
  name: string;
  latest: string;
  installed: string;
  /** Set when the latest release does not support this Node. */
  note?: string;
}

const failures: string[] = [];
const started = Date.now();
const phases: string[] = [];

async function step<T>(name: string, work: () => T | Promise<T>): Promise<T | undefined> {
  const t0 = Date.now();
  try {
    return await work();
  } catch (err) {
    failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    if (!process.argv.includes('--keep-going')) throw new Stop();
    return undefined;
  } finally {
    phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

class Stop extends Error {}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** npm's own message when a command fails (ERESOLVE names both sides), without its log-file lines. */
function npmError(err: unknown): string {
  const stderr = String((err as { stderr?: unknown }).stderr ?? err);
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('npm error') && !/A complete log|For a full report/.test(line))
    .slice(0, 25)
    .join('\n');
}

/** The latest release of each library, and the spec that installs it (or the newest this Node runs). */
function latestReleases(): Array<{ name: string; latest: string; engines?: string }> {
  return Object.keys(LIBRARIES).map((name) => {
    // One field found (no engines) comes back as that field's value, not as an object.
    const answer = JSON.parse(npm(['view', `${name}@latest`, 'version', 'engines', '--json'], ROOT)) as
      | string
      | { version: string; engines?: { node?: string } };
    const view = typeof answer === 'string' ? { version: answer } : answer;
    return { name, latest: view.version, ...(view.engines?.node ? { engines: view.engines.node } : {}) };
  });
}

/** Installs the libraries (cached by versions and Node major); resolves to what was installed. */
function prepareProject(releases: ReturnType<typeof latestReleases>): Chosen[] {
  assertNothingResolvesFromAbove(CONSUMER);
  mkdirSync(CONSUMER, { recursive: true });
  // `name@<=latest`: npm takes the newest version in the range whose engines admit this Node.
  const specs = Object.fromEntries(releases.map((r) => [r.name, `<=${r.latest}`]));
  const types = repoVersionOf('@types/node');
  // `saved`: the project pins what it installed (see below); a project from before that is rebuilt.
  const key = installKey({ specs, types, saved: true });
  const base = join(CONSUMER, 'base');
  if (!installedFor(CONSUMER, key) || !existsSync(join(base, 'package-lock.json'))) {
    for (const entry of [
      'node_modules',
      'package.json',
      'package-lock.json',
      'base',
      installKeyFile(CONSUMER),
    ])
      rmSync(join(CONSUMER, entry), { recursive: true, force: true });
    const manifest: { name: string; private: boolean; type: string; dependencies: Record<string, string> } = {
      name: 'latest-releases-consumer',
      private: true,
      type: 'module',
      dependencies: { ...specs, ...(types ? { '@types/node': types } : {}) },
    };
    writeFileSync(join(CONSUMER, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`check-latest: installing ${Object.keys(specs).join(', ')} in ${CONSUMER}`);
    npm(['install', '--no-audit', '--no-fund', '--loglevel=error'], CONSUMER);
    // As `npm install <name>` saves them (^version): npm may not move them to suit rds-iam-pool.
    const saved = Object.fromEntries(Object.keys(specs).map((name) => [name, `^${installedVersion(name)}`]));
    manifest.dependencies = { ...manifest.dependencies, ...saved };
    writeFileSync(join(CONSUMER, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    npm(['install', '--no-audit', '--no-fund', '--loglevel=error'], CONSUMER);
    // The project as it was before rds-iam-pool: every run installs the package into this state.
    mkdirSync(base);
    for (const file of ['package.json', 'package-lock.json'])
      copyFileSync(join(CONSUMER, file), join(base, file));
    writeFileSync(installKeyFile(CONSUMER), key);
  }
  for (const file of ['package.json', 'package-lock.json'])
    copyFileSync(join(base, file), join(CONSUMER, file));
  // From the lockfile: node_modules may still hold what a failed run left; npm restores it from the lock.
  const lock = JSON.parse(readFileSync(join(base, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  return releases.map((r) => {
    const installed = lock.packages[`node_modules/${r.name}`]?.version ?? 'not in the lockfile';
    return {
      name: r.name,
      latest: r.latest,
      installed,
      ...(installed !== r.latest
        ? {
            note: `${r.name} ${r.latest} needs Node ${r.engines ?? '(engines not given)'}; ${installed} is the newest for Node ${process.version}`,
          }
        : {}),
    };
  });
}

function installedVersion(name: string): string {
  const manifest = join(CONSUMER, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) throw new Error(`${name} is not installed in ${CONSUMER}`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** `npm install ./rds-iam-pool.tgz`, as a user would: no --legacy-peer-deps, no --force. */
function installPackage(chosen: Chosen[]): void {
  packInto(CONSUMER);
  try {
    npm(['install', '--no-audit', '--no-fund', './rds-iam-pool.tgz'], CONSUMER);
  } catch (err) {
    throw new Error(`npm install of the packed package failed without flags:\n${npmError(err)}`);
  }
  for (const c of chosen) {
    const now = installedVersion(c.name);
    if (now !== c.installed)
      throw new Error(`installing rds-iam-pool moved ${c.name} from ${c.installed} to ${now}`);
  }
}

/** The ORM examples as a reader's files, compiled against the installed releases. */
function compileExamples(): void {
  const entries = entrySpecifiers(
    SELF,
    (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> })
      .exports,
  );
  const src = join(CONSUMER, 'examples');
  rmSync(src, { recursive: true, force: true });
  rmSync(join(CONSUMER, 'out'), { recursive: true, force: true });
  for (const path of ['examples/shared/local-rds.ts', ...EXAMPLES.map((e) => `examples/${e}/main.ts`)]) {
    const target = join(CONSUMER, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, `${asInReadersProject(readFileSync(join(ROOT, path), 'utf8'), path, entries)}\n`);
  }
  writeFileSync(
    join(CONSUMER, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, rootDir: 'examples', outDir: 'out', noEmitOnError: true }, include: ['examples'] }, null, 2)}\n`,
  );
  const output = runTsc(CONSUMER, join(CONSUMER, 'tsconfig.json'));
  if (output.trim() !== '') throw new Error(`tsc:\n${output.trim()}`);
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: CONSUMER, env: { ...process.env, ...env }, timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number) : 0;
        resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
      },
    );
  });
}

/** Each example selects its rows and signs exactly once per refresh window. */
async function runExamples(): Promise<void> {
  const problems: string[] = [];
  for (const example of EXAMPLES) {
    const t0 = Date.now();
    const run = await runNode([join('out', example, 'main.js')], {
      EXAMPLE_DATABASE: `rip_latest_${example}_${process.pid}`,
    });
    const lines = run.stdout.trim().split('\n');
    const expected = [
      new RegExp(`^${example}: selected first, second$`),
      /^tokens signed: 1, connections opened: \d+$/,
      /^16 minutes later: tokens signed: 2, connections opened: \d+$/,
    ];
    const ok =
      run.code === 0 &&
      lines.length === expected.length &&
      expected.every((re, i) => re.test(lines[i] ?? ''));
    console.log(
      `  ${example.padEnd(10)} ${ok ? 'ok' : 'FAILED'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
    if (!ok) problems.push(`${example}: exit ${run.code}\n${run.stdout}${run.stderr}`.trim());
  }
  if (problems.length > 0) throw new Error(problems.join('\n\n'));
}

/** The CommonJS build of every adapter loads beside the installed release. */
async function requireAdapters(): Promise<void> {
  const subpaths = Object.values(LIBRARIES).filter((s): s is string => s !== undefined);
  const script = `for (const s of ${JSON.stringify(subpaths)}) require('${SELF}/' + s); console.log('ok');`;
  const run = await runNode(['-e', script]);
  if (run.code !== 0 || run.stdout.trim() !== 'ok')
    throw new Error(`require() failed:\n${run.stderr.trim()}`);
}

/**
 * `npx rds-iam-pool emulator --cluster --json`, as a user starts it: the pid in its ready event is the
 * emulator's own process, not npx's, so SIGUSR2 to it fails over, and SIGTERM to it ends both.
 */
async function emulatorUnderNpx(): Promise<void> {
  const backend = `mysql://${process.env.MARIADB_USER ?? 'root'}${process.env.MARIADB_PASSWORD ? `:${encodeURIComponent(process.env.MARIADB_PASSWORD)}` : ''}@${process.env.MARIADB_HOST ?? '127.0.0.1'}:${process.env.MARIADB_PORT ?? 3306}`;
  const npx = spawn('npx', [SELF, 'emulator', '--backend', backend, '--cluster', '--json'], {
    cwd: CONSUMER,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => npx.once('close', (code) => resolve(code)));
  let stderr = '';
  npx.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const lines = createInterface({ input: npx.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`no event within 30 s; stderr: ${stderr}`)), 30_000).unref(),
    );
    const { value, done } = await Promise.race([lines.next(), timeout]);
    if (done) throw new Error(`the emulator ended early; stderr: ${stderr}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
  let pid: number | undefined;
  try {
    const ready = await next();
    pid = ready.pid as number;
    if (ready.event !== 'ready' || typeof pid !== 'number')
      throw new Error(`expected a ready event with a pid, got ${JSON.stringify(ready)}`);
    if (pid === npx.pid) throw new Error(`the reported pid ${pid} is npx's own`);
    process.kill(pid, 'SIGUSR2');
    const failover = await next();
    if (failover.event !== 'failover-started')
      throw new Error(`SIGUSR2 to ${pid}: expected failover-started, got ${JSON.stringify(failover)}`);
    process.kill(pid, 'SIGTERM');
    for (let e = await next(); e.event !== 'stopped'; e = await next()) {
      // failover phases may still arrive before it stops
    }
    const code = await Promise.race([
      exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000).unref()),
    ]);
    if (code !== 0)
      throw new Error(`npx did not exit 0 after SIGTERM to the emulator (${code}); stderr: ${stderr}`);
  } finally {
    if (npx.exitCode === null) {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      npx.kill('SIGKILL');
    }
  }
}

/** The vitest files that test the adapters (and node-forge's use), run against other releases. */
const ADAPTER_SUITES = ['test/integration/adapters-', 'test/unit/emulator-certificates.test.ts'];

/** The adapter suites in a copy of this checkout, with the chosen releases installed there. */
async function adapterSuites(chosen: Chosen[]): Promise<void> {
  const copy = mkdtempSync(join(tmpdir(), 'rds-iam-pool-latest-suites-'));
  try {
    copyCheckout(ROOT, copy);
    const specs = chosen.map((c) => `${c.name}@${c.installed}`);
    try {
      npm(['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', ...specs], copy);
    } catch (err) {
      throw new Error(`npm install ${specs.join(' ')} in the copy failed:\n${npmError(err)}`);
    }
    for (const c of chosen) {
      const manifest = JSON.parse(
        readFileSync(join(copy, 'node_modules', c.name, 'package.json'), 'utf8'),
      ) as {
        version: string;
      };
      if (manifest.version !== c.installed)
        throw new Error(`the copy has ${c.name} ${manifest.version}, not ${c.installed}`);
    }
    console.log(`check-latest: vitest run ${ADAPTER_SUITES.join(' ')} with ${specs.join(', ')}`);
    const run = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', ...ADAPTER_SUITES], {
        cwd: copy,
        stdio: 'inherit',
      });
      child.once('close', resolve);
    });
    if (run !== 0) throw new Error(`the adapter suites failed (vitest exit ${run})`);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  try {
    const releases = (await step('registry', latestReleases)) ?? [];
    const chosen = (await step('install the libraries', () => prepareProject(releases))) ?? [];
    console.log(`check-latest: Node ${process.version}, in ${CONSUMER}`);
    for (const c of chosen)
      console.log(`  ${c.name.padEnd(12)} ${c.installed}${c.note ? `  (${c.note})` : ''}`);
    await step('npm install rds-iam-pool (no flags)', () => installPackage(chosen));
    await step('tsc on the examples', compileExamples);
    console.log('check-latest: the ORM examples against the emulator');
    await step('run the examples', runExamples);
    await step('require() every adapter', requireAdapters);
    await step('npx rds-iam-pool emulator: pid and signals', emulatorUnderNpx);
    await step('the adapter suites', () => adapterSuites(chosen));
  } catch (err) {
    if (!(err instanceof Stop)) failures.push(err instanceof Error ? err.message : String(err));
  }
  for (const f of failures) console.error(`check-latest: ${f}`);
  console.log(
    `check-latest: ${failures.length === 0 ? 'passed' : `${failures.length} problem(s)`} in ${((Date.now() - started) / 1000).toFixed(1)} s (${phases.join(', ')})`,
  );
  return failures.length === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
});
