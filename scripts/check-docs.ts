/**
 * `npm run check:docs`: every TypeScript block in README.md and docs/*.md compiles the way a reader's
 * project would compile it, and the blocks marked `run` run.
 *
 * - The reader's project is a temporary consumer project outside this repository (so nothing resolves
 *   from our node_modules), with `rds-iam-pool` installed from `npm pack` of the current build (run
 *   `npm run build` first), `@types/node`, and only the packages the docs tell the reader to install:
 *   a block may import a package only if its page says `npm install <package>`.
 * - One `tsc` run over all blocks, each block its own module, with the compiler options of TypeScript
 *   5.9's `tsc --init` (`module: nodenext`, strict, `exactOptionalPropertyTypes`,
 *   `verbatimModuleSyntax`, ...).
 * - Blocks marked `<!-- snippet: run -->` then run in page order against the local MariaDB
 *   (127.0.0.1:3306, root, empty password; `MARIADB_*` variables override), SQL blocks as root; shell
 *   blocks marked `<!-- snippet: background: <ready text> -->` (an emulator the reader leaves running)
 *   are started in the reader's project before the page's next block and stopped after its last.
 * - The consumer's npm install is cached (keyed by the packages and versions it needs); each run only
 *   swaps in the freshly packed rds-iam-pool.
 *
 * Markers are documented in CONTRIBUTING.md. Usage: `tsx scripts/check-docs.ts [page.md ...]`.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import mysql from 'mysql2/promise';
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
  swapInPackage,
} from './consumer-project.js';
import {
  contextAndCode,
  entrySpecifiers,
  importedPackages,
  installedByPage,
  labelledFileMismatch,
  labelledFiles,
  readSnippets,
  type Snippet,
  type SnippetProblem,
  undeclaredImports,
} from './docs-snippets.js';

const RUN_TIMEOUT_MS = 60_000;
/** The package's entry points by source file (`src/index.ts` -> `rds-iam-pool`), for labelled blocks. */
const ENTRIES = entrySpecifiers(
  SELF,
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> })
    .exports,
);
/** The consumer project lives outside the repository, so Node and tsc cannot find our node_modules. */
const CONSUMER = process.env.DOCS_CONSUMER_DIR ?? consumerDir('docs-consumer');

/** A block that must fail to compile: proof, on every run, that the check can fail. */
const CANARY: Snippet = {
  page: '(canary)',
  line: 1,
  language: 'ts',
  mode: 'check',
  code: `import { notExportedByRdsIamPool } from '${SELF}';\nconsole.log(notExportedByRdsIamPool);`,
  prelude: '',
  files: {},
};

interface Block {
  id: string;
  snippet: Snippet;
  preludeLines: number;
}

async function main(): Promise<number> {
  const started = Date.now();
  const pages = process.argv.slice(2).length > 0 ? process.argv.slice(2) : docPages();
  const problems: SnippetProblem[] = [];
  const blocks: Block[] = [];
  const skipped: Snippet[] = [];
  const wanted = new Set<string>(['@types/node']);

  for (const page of pages) {
    const markdown = readFileSync(join(ROOT, page), 'utf8');
    const installs = installedByPage(markdown);
    const read = readSnippets(page, markdown);
    problems.push(...read.problems);
    // A block labelled with a repository file must show that file (as a reader's project has it).
    for (const [snippet, path] of labelledFiles(markdown, read.snippets)) {
      const file = join(ROOT, path);
      const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      const mismatch = labelledFileMismatch(snippet, path, text, ENTRIES);
      if (mismatch) problems.push({ page, line: snippet.line, message: mismatch });
    }
    let usesPage = false;
    for (const snippet of read.snippets) {
      for (const name of undeclaredImports(snippet, installs, SELF)) {
        problems.push({
          page,
          line: snippet.line,
          message: `imports ${name}, which ${page} never tells the reader to install (\`npm install ${name}\`)`,
        });
      }
      if (snippet.mode === 'skip') {
        skipped.push(snippet);
        continue;
      }
      if (snippet.language === 'ts') {
        // A package a block imports must be declared (checked above) and installable.
        for (const name of importedPackages(contextAndCode(snippet))) {
          if (name !== SELF && installs.has(name)) wanted.add(name);
        }
        usesPage = true;
      }
      blocks.push({ id: blockId(snippet), snippet, preludeLines: countLines(snippet.prelude) });
    }
    // What the page installs is in the reader's project even when no block imports it: an adapter's
    // types come from the ORM the page installs. Packages only skipped blocks use may be absent here.
    if (usesPage) for (const name of installs) if (name !== SELF && installedHere(name)) wanted.add(name);
  }

  const phases: string[] = [];
  const timed = <T>(name: string, work: () => T): T => {
    const t0 = Date.now();
    const result = work();
    phases.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return result;
  };
  timed('pack and install', () => prepareConsumer(wanted));
  const tsBlocks = blocks.filter((b) => b.snippet.language === 'ts');
  const canary: Block = { id: 'canary', snippet: CANARY, preludeLines: 0 };
  writeBlocks([...tsBlocks, canary]);
  const diagnostics = timed('tsc', compile);
  const canaryCaught = diagnostics.some((d) => d.file.startsWith('canary/') && d.code === 'TS2305');
  if (!canaryCaught) {
    problems.push({
      page: '(canary)',
      line: 1,
      message: 'tsc did not report the canary block: the check is broken',
    });
  }
  for (const d of diagnostics) {
    if (d.file.startsWith('canary/')) continue;
    problems.push(locate(d, tsBlocks));
  }
  for (const block of tsBlocks) {
    if (!existsSync(join(CONSUMER, 'out', block.id, 'main.js'))) {
      problems.push({
        page: block.snippet.page,
        line: block.snippet.line,
        message: 'tsc did not compile this block',
      });
    }
  }

  const runnable = blocks.filter((b) => b.snippet.mode === 'run' || b.snippet.mode === 'background');
  let ran = 0;
  const runStarted = Date.now();
  if (problems.length === 0) {
    // Page by page: a page's background commands run until its last run block has run.
    for (const page of new Set(runnable.map((b) => b.snippet.page))) {
      const background = new BackgroundCommands();
      try {
        for (const block of runnable.filter((b) => b.snippet.page === page)) {
          const failure =
            block.snippet.mode === 'background'
              ? await background.start(block.snippet)
              : await runBlock(block);
          if (failure) {
            problems.push({ page: block.snippet.page, line: block.snippet.line, message: failure });
            break;
          }
          ran++;
        }
      } finally {
        await background.stopAll();
      }
    }
  }

  phases.push(`run ${((Date.now() - runStarted) / 1000).toFixed(1)} s`);
  for (const p of problems) console.error(`${p.page}:${p.line}: ${p.message}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `docs snippets: ${tsBlocks.length} TypeScript blocks type-checked in ${pages.length} pages, ` +
      `${ran} of ${runnable.length} run blocks run, ${skipped.length} skipped, ${problems.length} problems (${seconds} s: ${phases.join(', ')})`,
  );
  for (const s of skipped) console.log(`  skipped ${s.page}:${s.line}: ${s.reason}`);
  return problems.length === 0 ? 0 : 1;
}

function docPages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

function blockId(snippet: Snippet): string {
  return `${snippet.page.replace(/\.md$/, '').replace(/[^\w]+/g, '-')}-L${snippet.line}`;
}

function installedHere(name: string): boolean {
  return repoVersionOf(name) !== undefined;
}

function countLines(text: string): number {
  return text.trim() === '' ? 0 : text.split('\n').length;
}

/** Exact versions this repository tests with, so the consumer gets the same ones (and npm's cache). */
function versionOf(name: string): string {
  const version = repoVersionOf(name);
  if (version === undefined) {
    throw new Error(
      `the docs import ${name}, which this repository does not install: add it to devDependencies`,
    );
  }
  return version;
}

/**
 * The consumer project: reinstalled only when the packages it needs change; rds-iam-pool is packed
 * from the current build and swapped in on every run.
 */
function prepareConsumer(wanted: Set<string>): void {
  assertNothingResolvesFromAbove(CONSUMER);
  const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const dependencies = Object.fromEntries([...wanted].sort().map((name) => [name, versionOf(name)]));
  const key = installKey({
    dependencies,
    packageDependencies: rootManifest.dependencies,
    peerDependencies: rootManifest.peerDependencies,
  });

  const tarball = packInto(CONSUMER);
  if (installedFor(CONSUMER, key) && existsSync(join(CONSUMER, 'node_modules', SELF))) {
    swapInPackage(CONSUMER, tarball);
    return;
  }
  const keyFile = installKeyFile(CONSUMER);
  for (const entry of ['node_modules', 'package-lock.json', keyFile])
    rmSync(join(CONSUMER, entry), { recursive: true, force: true });
  const manifest = {
    name: 'docs-consumer',
    private: true,
    type: 'module',
    dependencies: { [SELF]: 'file:./rds-iam-pool.tgz', ...dependencies },
  };
  writeFileSync(join(CONSUMER, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`docs snippets: installing the consumer project in ${CONSUMER} (${wanted.size + 1} packages)`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: CONSUMER,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  writeFileSync(keyFile, key);
}

function writeBlocks(blocks: Block[]): void {
  for (const dir of ['blocks', 'out']) rmSync(join(CONSUMER, dir), { recursive: true, force: true });
  for (const { id, snippet } of blocks) {
    const dir = join(CONSUMER, 'blocks', id);
    mkdirSync(dir, { recursive: true });
    const source = snippet.prelude.trim() === '' ? snippet.code : `${snippet.prelude}\n${snippet.code}`;
    writeFileSync(join(dir, 'main.ts'), `${source}\n`);
    for (const [name, content] of Object.entries(snippet.files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), `${content}\n`);
    }
  }
  writeFileSync(
    join(CONSUMER, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: { ...COMPILER_OPTIONS, rootDir: 'blocks', outDir: 'out' }, include: ['blocks'] }, null, 2)}\n`,
  );
}

interface Diagnostic {
  /** Relative to blocks/. */
  file: string;
  line: number;
  code: string;
  message: string;
}

function compile(): Diagnostic[] {
  const output = runTsc(CONSUMER, join(CONSUMER, 'tsconfig.json'));
  const diagnostics: Diagnostic[] = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m) {
      diagnostics.push({
        file: relative(join(CONSUMER, 'blocks'), join(CONSUMER, m[1] ?? ''))
          .split('\\')
          .join('/'),
        line: Number(m[2]),
        code: m[4] ?? '',
        message: m[5] ?? '',
      });
    } else if (line.startsWith(' ') && diagnostics.length > 0) {
      const last = diagnostics[diagnostics.length - 1];
      if (last) last.message += ` ${line.trim()}`;
    } else if (line.trim() !== '') {
      diagnostics.push({ file: '(tsc)', line: 0, code: '', message: line });
    }
  }
  return diagnostics;
}

/** Maps a diagnostic in blocks/<id>/<file> back to the Markdown line it came from. */
function locate(d: Diagnostic, blocks: Block[]): SnippetProblem {
  const [id, ...rest] = d.file.split('/');
  const block = blocks.find((b) => b.id === id);
  if (!block) return { page: d.file, line: d.line, message: `${d.code} ${d.message}` };
  const file = rest.join('/');
  const { snippet, preludeLines } = block;
  if (file !== 'main.ts') {
    return {
      page: snippet.page,
      line: snippet.line,
      message: `${d.code} ${d.message} (hidden file ${file}, line ${d.line})`,
    };
  }
  if (d.line <= preludeLines) {
    return {
      page: snippet.page,
      line: snippet.line,
      message: `${d.code} ${d.message} (hidden prelude, line ${d.line})`,
    };
  }
  return {
    page: snippet.page,
    line: snippet.line + d.line - preludeLines - 1,
    message: `${d.code} ${d.message}`,
  };
}

/**
 * A page's `background` shell commands (an emulator the reader leaves running in a second terminal),
 * each in a process group of its own in the reader's project, so that stopping it also stops what it
 * started (`npx` runs the command as a child of `npm exec`). One page at a time on this machine holds
 * the lock: the commands a page shows listen on fixed ports, and another checkout's run of the same
 * page would find them taken.
 */
class BackgroundCommands {
  #running: Array<{ child: ChildProcess; exited: Promise<void> }> = [];
  #releaseLock: (() => void) | undefined;

  /** Starts the command and waits until it prints its ready text; resolves to a failure, or undefined. */
  async start(snippet: Snippet): Promise<string | undefined> {
    this.#releaseLock ??= await acquireMachineLock('docs-background');
    const child = spawn('sh', ['-c', snippet.code], {
      cwd: CONSUMER,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.#running.push({ child, exited });
    let output = '';
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => done(`did not print "${snippet.readyText}" within 60 s`),
        RUN_TIMEOUT_MS,
      );
      const done = (failure?: string) => {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        child.off('close', onClose);
        resolve(failure === undefined ? undefined : `${failure}:\n    ${tail(output)}`);
      };
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (snippet.readyText && output.includes(snippet.readyText)) done();
      };
      const onClose = (code: number | null) => done(`exited (${code}) before it was ready`);
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('close', onClose);
    });
  }

  /** SIGTERM to every command's process group; SIGKILL to what is still there after 10 s. */
  async stopAll(): Promise<void> {
    for (const { child } of this.#running) signalGroup(child, 'SIGTERM');
    await Promise.all(
      this.#running.map(({ child, exited }) =>
        Promise.race([exited, sleep(10_000).then(() => signalGroup(child, 'SIGKILL'))]),
      ),
    );
    this.#running = [];
    this.#releaseLock?.();
    this.#releaseLock = undefined;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function tail(text: string): string {
  return text.trim().split('\n').slice(-15).join('\n    ');
}

/**
 * A lock shared by every checkout on this machine (a directory in the temp directory, created
 * atomically); one left by a process that is gone is taken over. Resolves to its release.
 */
async function acquireMachineLock(name: string): Promise<() => void> {
  const dir = join(tmpdir(), `rds-iam-pool-${name}.lock`);
  const owner = join(dir, 'pid');
  for (let waited = 0; ; waited += 200) {
    try {
      mkdirSync(dir);
      writeFileSync(owner, String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      const pid = lockOwner(owner);
      // No pid yet: its owner is between mkdir and writing it, unless that was long ago.
      const abandoned = pid === undefined ? ageMs(dir) > 10_000 : !processAlive(pid);
      if (abandoned) rmSync(dir, { recursive: true, force: true });
      else if (waited > 5 * 60_000) throw new Error(`${dir} has been held by process ${pid} for 5 minutes`);
      await sleep(200);
    }
  }
}

function lockOwner(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

/** Runs one `run` block; resolves to a failure message, or undefined. */
async function runBlock({ id, snippet }: Block): Promise<string | undefined> {
  if (snippet.language === 'sql') {
    const connection = await mysql.createConnection({
      host: process.env.MARIADB_HOST ?? '127.0.0.1',
      port: Number(process.env.MARIADB_PORT ?? 3306),
      user: process.env.MARIADB_USER ?? 'root',
      password: process.env.MARIADB_PASSWORD ?? '',
      multipleStatements: true,
    });
    try {
      await connection.query(snippet.code);
      return undefined;
    } catch (err) {
      return `SQL failed: ${(err as Error).message}`;
    } finally {
      await connection.end();
    }
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join('out', id, 'main.js')],
      { cwd: CONSUMER, timeout: RUN_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (!error) return resolve(undefined);
        const output = `${stderr}${stdout}`.trim().split('\n').slice(-15).join('\n    ');
        resolve(`running it failed (${error.killed ? 'timed out' : `exit ${error.code}`}):\n    ${output}`);
      },
    );
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`check-docs: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
