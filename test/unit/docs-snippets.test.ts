import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  asInReadersProject,
  entrySpecifiers,
  importedPackages,
  installedByPage,
  labelledFileMismatch,
  labelledFiles,
  readSnippets,
  undeclaredImports,
} from '../../scripts/docs-snippets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAGES = ['README.md', ...readdirSync(`${ROOT}docs`).map((f) => `docs/${f}`)].filter((p) =>
  p.endsWith('.md'),
);
const read = (page: string) => readFileSync(`${ROOT}${page}`, 'utf8');
const fence = '```';
const ENTRIES = entrySpecifiers('rds-iam-pool', JSON.parse(read('package.json')).exports);
const readIfFile = (path: string) => (existsSync(`${ROOT}${path}`) ? read(path) : undefined);

describe('readSnippets', () => {
  it('checks every ts and typescript block, and no other language', () => {
    const md = [
      `${fence}ts`,
      'const a = 1;',
      fence,
      `${fence}typescript`,
      'const b = 2;',
      fence,
      `${fence}sh`,
      'npm test',
      fence,
      `${fence}sql`,
      'SELECT 1;',
      fence,
    ].join('\n');
    const { snippets, problems } = readSnippets('p.md', md);
    expect(problems).toEqual([]);
    expect(snippets.map((s) => [s.line, s.mode, s.code])).toEqual([
      [2, 'check', 'const a = 1;'],
      [5, 'check', 'const b = 2;'],
    ]);
  });

  it('reads a partial marker: a hidden prelude and hidden files', () => {
    const md = [
      'Text.',
      '',
      '<!-- snippet: partial',
      "import type { IamPool } from 'rds-iam-pool';",
      'declare const pool: IamPool;',
      '// file: ./schema.ts',
      'export const notes = 1;',
      '-->',
      `${fence}ts`,
      'await pool.query("SELECT 1");',
      fence,
    ].join('\n');
    const { snippets, problems } = readSnippets('p.md', md);
    expect(problems).toEqual([]);
    expect(snippets).toEqual([
      {
        page: 'p.md',
        line: 10,
        language: 'ts',
        mode: 'partial',
        code: 'await pool.query("SELECT 1");',
        prelude: "import type { IamPool } from 'rds-iam-pool';\ndeclare const pool: IamPool;",
        files: { 'schema.ts': 'export const notes = 1;' },
      },
    ]);
  });

  it('reads run (TypeScript and SQL) and skip markers, and a fence indented in a list', () => {
    const md = [
      '<!-- snippet: run -->',
      `${fence}sql`,
      'CREATE USER x;',
      fence,
      '1. A step:',
      '',
      '   <!-- snippet: skip: needs a generated client -->',
      `   ${fence}ts`,
      "   import { x } from './generated.js';",
      `   ${fence}`,
    ].join('\n');
    const { snippets, problems } = readSnippets('p.md', md);
    expect(problems).toEqual([]);
    expect(snippets.map((s) => [s.language, s.mode, s.reason, s.code])).toEqual([
      ['sql', 'run', undefined, 'CREATE USER x;'],
      ['ts', 'skip', 'needs a generated client', "import { x } from './generated.js';"],
    ]);
  });

  it('reads a background shell block with the text it prints when ready; leaves unmarked shell blocks alone', () => {
    const md = [
      `${fence}sh`,
      'npm install rds-iam-pool',
      fence,
      '<!-- snippet: background: RDS IAM emulator running -->',
      `${fence}sh`,
      'npx rds-iam-pool emulator --port 3307',
      fence,
    ].join('\n');
    const { snippets, problems } = readSnippets('p.md', md);
    expect(problems).toEqual([]);
    expect(snippets).toEqual([
      {
        page: 'p.md',
        line: 6,
        language: 'sh',
        mode: 'background',
        readyText: 'RDS IAM emulator running',
        code: 'npx rds-iam-pool emulator --port 3307',
        prelude: '',
        files: {},
      },
    ]);
  });

  it.each([
    ['<!-- snippet: maybe -->', 'unknown snippet marker'],
    ['<!-- snippet: skip -->', 'must say why'],
    ['<!-- snippet: run: because -->', 'only skip and background take an argument'],
    ['<!-- snippet: background -->', 'must say what it prints when ready'],
    ['<!-- snippet: background: ready -->', 'only a shell block (sh, bash) can be marked background'],
    ['<!-- snippet: partial -->', 'needs the context it assumes'],
    ['<!-- snippet: check\ndeclare const x: number;\n-->', 'must stand alone'],
  ])('refuses %j', (marker, message) => {
    const { problems } = readSnippets('p.md', `${marker}\n${fence}ts\nconst a = 1;\n${fence}\n`);
    expect(problems).toEqual([
      expect.objectContaining({ page: 'p.md', message: expect.stringContaining(message) }),
    ]);
  });

  it('refuses a marker that is not followed by a code block, or is on a block it does not check', () => {
    expect(readSnippets('p.md', '<!-- snippet: run -->\nSome text.\n').problems).toEqual([
      { page: 'p.md', line: 1, message: 'snippet marker not followed by a code block' },
    ]);
    expect(readSnippets('p.md', `<!-- snippet: run -->\n${fence}json\n{}\n${fence}\n`).problems).toEqual([
      { page: 'p.md', line: 1, message: 'snippet marker on a `json` block' },
    ]);
    expect(readSnippets('p.md', `<!-- snippet: run -->\n${fence}sh\nls\n${fence}\n`).problems).toEqual([
      { page: 'p.md', line: 1, message: 'a shell block can only be marked background' },
    ]);
    expect(readSnippets('p.md', '<!-- snippet: partial\ndeclare const x: 1;\n').problems).toEqual([
      { page: 'p.md', line: 1, message: 'snippet marker is not closed with -->' },
    ]);
  });
});

describe('what a page tells the reader to install', () => {
  it('reads npm install commands in shell blocks and inline code, without flags and versions', () => {
    const md = [
      `${fence}sh`,
      'npm install --save-dev rds-iam-pool mysql2@3 @aws-sdk/rds-signer@^3.1 && npm test',
      fence,
      'Then `npm i -D @types/express` and `npm add kysely` # not: npm ci',
    ].join('\n');
    expect([...installedByPage(md)].sort()).toEqual(
      ['@aws-sdk/rds-signer', '@types/express', 'kysely', 'mysql2', 'rds-iam-pool'].sort(),
    );
  });

  it('finds the packages a block imports: subpaths, type-only, dynamic; not built-ins or relative files', () => {
    const code = [
      "import net from 'node:net';",
      "import fs from 'fs';",
      "import type { Meter } from '@opentelemetry/api';",
      "import { x } from 'rds-iam-pool/adapters/kysely';",
      "import mysql from 'mysql2/promise';",
      "import * as schema from './schema.js';",
      "export { y } from 'drizzle-orm';",
      "const z = await import('knex');",
    ].join('\n');
    expect(importedPackages(code).sort()).toEqual(
      ['@opentelemetry/api', 'drizzle-orm', 'knex', 'mysql2', 'rds-iam-pool'].sort(),
    );
  });

  it('reports a package imported but never installed on the page, even in a skipped block or a prelude', () => {
    const md = [
      '`npm install kysely`',
      '<!-- snippet: skip: sketch -->',
      `${fence}ts`,
      "import { fromNodeProviderChain } from '@aws-sdk/credential-providers';",
      "import { Kysely } from 'kysely';",
      "import { createIamPool } from 'rds-iam-pool';",
      fence,
    ].join('\n');
    const [snippet] = readSnippets('p.md', md).snippets;
    expect(undeclaredImports(snippet!, installedByPage(md), 'rds-iam-pool')).toEqual([
      '@aws-sdk/credential-providers',
    ]);
  });
});

describe('the docs themselves (the full check is npm run check:docs)', () => {
  it.each(PAGES)('%s: markers are well formed and every import is installed by the page', (page) => {
    const markdown = read(page);
    const { snippets, problems } = readSnippets(page, markdown);
    expect(problems).toEqual([]);
    const installs = installedByPage(markdown);
    expect(snippets.flatMap((s) => undeclaredImports(s, installs, 'rds-iam-pool'))).toEqual([]);
  });

  it.each(PAGES)('%s: every block labelled with a repository file shows that file', (page) => {
    const markdown = read(page);
    const labelled = labelledFiles(markdown, readSnippets(page, markdown).snippets);
    const mismatches = [...labelled].map(([snippet, path]) =>
      labelledFileMismatch(snippet, path, readIfFile(path), ENTRIES),
    );
    expect(mismatches.filter(Boolean)).toEqual([]);
  });

  it('finds the labelled blocks of the docs (the check cannot pass by finding none)', () => {
    const found = PAGES.flatMap((page) => {
      const markdown = read(page);
      return [...labelledFiles(markdown, readSnippets(page, markdown).snippets).values()];
    });
    expect(found).toEqual(
      expect.arrayContaining(['examples/lambda/handler.ts', 'examples/opentelemetry/pool-metrics.ts']),
    );
  });
});

describe('a block labelled with a repository file', () => {
  const page = [
    'Intro.',
    '',
    'The handler, [`examples/x/handler.ts`](https://github.com/o/r/blob/main/examples/x/handler.ts):',
    '',
    '<!-- snippet: partial',
    'declare const y: number;',
    '-->',
    `${fence}ts`,
    "import { createIamPool } from 'rds-iam-pool';",
    'export const pool = createIamPool({ host: "h", user: "u" });',
    fence,
    '',
    'Mentions [`examples/x/other.ts`](https://example.com) but is no label.',
    '',
    `${fence}ts`,
    'const z = 1;',
    fence,
  ].join('\n');
  const file = [
    '/**',
    ' * A header the docs leave out.',
    ' */',
    "// In your project: import { createIamPool } from 'rds-iam-pool';",
    "import { createIamPool } from '../../src/index.js';",
    'export const pool = createIamPool({ host: "h", user: "u" });',
    '',
  ].join('\n');

  it('is the paragraph before it (its marker aside) ending with a colon and linking the path', () => {
    const { snippets } = readSnippets('p.md', page);
    expect([...labelledFiles(page, snippets)].map(([s, path]) => [s.line, path])).toEqual([
      [9, 'examples/x/handler.ts'],
    ]);
  });

  it("must show the file as a reader's project has it: no header, no notes, package specifiers", () => {
    expect(asInReadersProject(file, 'examples/x/handler.ts', ENTRIES)).toBe(
      [
        "import { createIamPool } from 'rds-iam-pool';",
        'export const pool = createIamPool({ host: "h", user: "u" });',
      ].join('\n'),
    );
    const entries = new Map([
      ['src/emulator/index.ts', 'rds-iam-pool/emulator'],
      ['src/adapters/kysely.ts', 'rds-iam-pool/adapters/kysely'],
    ]);
    expect(
      asInReadersProject(
        "import { a } from '../src/emulator/index.js';\nimport { b } from './local.js';\nconst c = await import('../src/adapters/kysely.js');",
        'examples/main.ts',
        entries,
      ),
    ).toBe(
      "import { a } from 'rds-iam-pool/emulator';\nimport { b } from './local.js';\nconst c = await import('rds-iam-pool/adapters/kysely');",
    );
  });

  it('is reported where it differs from the file, and when the file does not exist', () => {
    const [snippet] = readSnippets('p.md', page).snippets;
    expect(labelledFileMismatch(snippet!, 'examples/x/handler.ts', file, ENTRIES)).toBeUndefined();
    const changed = file.replace('user: "u"', 'user: "v"');
    expect(labelledFileMismatch(snippet!, 'examples/x/handler.ts', changed, ENTRIES)).toBe(
      "shows examples/x/handler.ts, but differs from it at the block's line 2: the file (as in a reader's project) has " +
        '"export const pool = createIamPool({ host: \\"h\\", user: \\"v\\" });", the block "export const pool = createIamPool({ host: \\"h\\", user: \\"u\\" });"',
    );
    expect(
      labelledFileMismatch(snippet!, 'examples/x/handler.ts', `${file}export const more = 1;\n`, ENTRIES),
    ).toMatch(
      /at the block's line 3: the file .* has "export const more = 1;", the block "\(end of block\)"/,
    );
    expect(labelledFileMismatch(snippet!, 'examples/x/gone.ts', undefined, ENTRIES)).toBe(
      'labelled with examples/x/gone.ts, which is not a file of this repository',
    );
  });
});
