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
 *   (127.0.0.1:3306, root, empty password; `MARIADB_*` variables override), SQL blocks as root.
 * - The consumer's npm install is cached (keyed by the packages and versions it needs); each run only
 *   swaps in the freshly packed rds-iam-pool.
 *
 * Markers are documented in CONTRIBUTING.md. Usage: `tsx scripts/check-docs.ts [page.md ...]`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import {
  contextAndCode,
  importedPackages,
  installedByPage,
  readSnippets,
  type Snippet,
  type SnippetProblem,
  undeclaredImports,
} from './docs-snippets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SELF = 'rds-iam-pool';
const RUN_TIMEOUT_MS = 60_000;
/** The consumer project lives outside the repository, so Node and tsc cannot find our node_modules. */
const CONSUMER =
  process.env.DOCS_CONSUMER_DIR ??
  join(tmpdir(), `rds-iam-pool-docs-consumer-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`);

/** TypeScript 5.9's `tsc --init`, minus what only matters for emitting a library; `types: ["node"]`. */
const COMPILER_OPTIONS = {
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
  rootDir: 'blocks',
  outDir: 'out',
  noEmitOnError: false,
};

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

  const runnable = blocks.filter((b) => b.snippet.mode === 'run');
  let ran = 0;
  const runStarted = Date.now();
  if (problems.length === 0) {
    for (const block of runnable) {
      const failure = await runBlock(block);
      if (failure) problems.push({ page: block.snippet.page, line: block.snippet.line, message: failure });
      else ran++;
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
  return existsSync(join(ROOT, 'node_modules', name, 'package.json'));
}

function countLines(text: string): number {
  return text.trim() === '' ? 0 : text.split('\n').length;
}

/** Exact versions this repository tests with, so the consumer gets the same ones (and npm's cache). */
function versionOf(name: string): string {
  const manifest = join(ROOT, 'node_modules', name, 'package.json');
  if (!existsSync(manifest)) {
    throw new Error(
      `the docs import ${name}, which this repository does not install: add it to devDependencies`,
    );
  }
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * The consumer project: reinstalled only when the packages it needs change; rds-iam-pool is packed
 * from the current build and swapped in on every run.
 */
function prepareConsumer(wanted: Set<string>): void {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('no dist/: run `npm run build` first');
  for (let dir = dirname(CONSUMER); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) {
      throw new Error(
        `${dir}/node_modules exists: the consumer project in ${CONSUMER} would resolve from it`,
      );
    }
    if (dirname(dir) === dir) break;
  }
  const rootManifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const dependencies = Object.fromEntries([...wanted].sort().map((name) => [name, versionOf(name)]));
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        dependencies,
        packageDependencies: rootManifest.dependencies,
        peerDependencies: rootManifest.peerDependencies,
        node: process.versions.node.split('.')[0],
      }),
    )
    .digest('hex');

  mkdirSync(CONSUMER, { recursive: true });
  const packed = execFileSync('npm', ['pack', '--json', '--pack-destination', CONSUMER], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const tarball = join(CONSUMER, 'rds-iam-pool.tgz');
  renameSync(join(CONSUMER, filename), tarball);

  const keyFile = join(CONSUMER, '.install-key');
  const installed = existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key;
  if (installed && existsSync(join(CONSUMER, 'node_modules', SELF))) {
    const unpacked = join(CONSUMER, '.unpacked');
    rmSync(unpacked, { recursive: true, force: true });
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
    rmSync(join(CONSUMER, 'node_modules', SELF), { recursive: true, force: true });
    renameSync(join(unpacked, 'package'), join(CONSUMER, 'node_modules', SELF));
    rmSync(unpacked, { recursive: true, force: true });
    return;
  }
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
    `${JSON.stringify({ compilerOptions: COMPILER_OPTIONS, include: ['blocks'] }, null, 2)}\n`,
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
  const tsc = join(ROOT, 'node_modules', 'typescript', 'lib', 'tsc.js');
  let output: string;
  try {
    output = execFileSync(
      process.execPath,
      [tsc, '-p', join(CONSUMER, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: CONSUMER,
        encoding: 'utf8',
      },
    );
  } catch (err) {
    output = (err as { stdout?: string }).stdout ?? String(err);
  }
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
