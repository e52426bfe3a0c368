/**
 * The rules of docs/architecture.md, kept true: the library's layers import downwards only, with no
 * circles; only src/mysql2-boundary.ts touches what mysql2 does not promise; functions stay short;
 * the tools (CLI, emulator) use the library only through its public entry points and the shared
 * code, and nothing under bench/ imports from test/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Every relative module a file imports (static and dynamic), as repository paths. */
function relativeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1] ?? '');
  return specifiers.map((s) => relative(ROOT, resolve(ROOT, dirname(file), s)).replace(/\.js$/, '.ts'));
}

function violations(dir: string, allowed: (target: string) => boolean): string[] {
  return files(dir).flatMap((file) =>
    relativeImports(file)
      .filter((target) => !allowed(target))
      .map((target) => `${file} imports ${target}`),
  );
}

describe('module boundaries', () => {
  it('the CLI imports the library through src/index.ts and the emulator through its entry only', () => {
    expect(
      violations(
        'src/cli',
        (t) =>
          ['src/index.ts', 'src/emulator/index.ts'].includes(t) ||
          t.startsWith('src/cli/') ||
          t.startsWith('src/shared/') ||
          t.startsWith('src/protocol/'),
      ),
    ).toEqual([]);
  });

  it('the emulator imports no library internals', () => {
    expect(
      violations(
        'src/emulator',
        (t) => t.startsWith('src/emulator/') || t.startsWith('src/shared/') || t.startsWith('src/protocol/'),
      ),
    ).toEqual([]);
  });

  it('the shared code imports nothing of the library, the emulator or the CLI', () => {
    expect(violations('src/shared', (t) => t.startsWith('src/shared/'))).toEqual([]);
  });

  it("the MySQL protocol code is the tools' alone: it imports nothing else, and the library does not import it", () => {
    expect(violations('src/protocol', (t) => t.startsWith('src/protocol/'))).toEqual([]);
    expect(
      libraryFiles().flatMap((f) => relativeImports(f).filter((t) => t.startsWith('src/protocol/'))),
    ).toEqual([]);
  });

  it('nothing under bench/ imports from test/', () => {
    expect(violations('bench', (t) => !t.startsWith('test/'))).toEqual([]);
  });
});

/**
 * The library's layers, bottom up (docs/architecture.md explains each). A file may import from its
 * own layer and the ones below; the tools (CLI, emulator) are checked above.
 */
const LAYERS: Array<[layer: string, paths: string[]]> = [
  ['base', ['src/errors.ts', 'src/diagnostics.ts', 'src/shared/']],
  ['driver', ['src/mysql2-boundary.ts']],
  ['parts', ['src/token/', 'src/tls/', 'src/retry.ts']],
  ['options', ['src/options.ts', 'src/outcome.ts']],
  ['login', ['src/login/']],
  ['connection', ['src/connection/']],
  ['pool', ['src/pool/', 'src/transaction.ts']],
  ['public', ['src/index.ts', 'src/adapters/']],
];

/**
 * Imports allowed to point up a layer, each with its reason (at most one: docs/architecture.md).
 * Empty today.
 */
const UPWARD_EXCEPTIONS: Array<{ from: string; to: string; reason: string }> = [];

function layerOf(file: string): number | undefined {
  const index = LAYERS.findIndex(([, paths]) =>
    paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)),
  );
  return index === -1 ? undefined : index;
}

const libraryFiles = () => files('src').filter((f) => layerOf(f) !== undefined);

describe('the library layers', () => {
  it('every library file belongs to a layer', () => {
    const unplaced = files('src').filter(
      (f) =>
        layerOf(f) === undefined &&
        !f.startsWith('src/cli/') &&
        !f.startsWith('src/emulator/') &&
        !f.startsWith('src/protocol/'),
    );
    expect(unplaced).toEqual([]);
  });

  it('imports point down (or across) the layers, but for the listed exceptions', () => {
    expect(UPWARD_EXCEPTIONS.length).toBeLessThanOrEqual(1);
    const upward = libraryFiles().flatMap((file) =>
      relativeImports(file)
        .filter((target) => (layerOf(target) ?? -1) > (layerOf(file) as number))
        .filter((target) => !UPWARD_EXCEPTIONS.some((e) => e.from === file && e.to === target))
        .map(
          (target) =>
            `${file} (${LAYERS[layerOf(file) as number]?.[0]}) imports ${target} (${LAYERS[layerOf(target) as number]?.[0]})`,
        ),
    );
    expect(upward).toEqual([]);
  });

  it('has no import circles', () => {
    const graph = new Map(
      libraryFiles().map((f) => [f, relativeImports(f).filter((t) => layerOf(t) !== undefined)]),
    );
    const circles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        circles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });
});

/**
 * What mysql2 does not promise: its private members, and the message texts the pool recognises.
 * Only the boundary module may name them (the emulator and the CLI speak the protocol themselves).
 */
const MYSQL2_PRIVATE = [
  /\._(?:allConnections|freeConnections|connectionQueue|fatalError|protocolError|closing|removeFromPool|realEnd|command|closed|createConnectionConfig|pool)\b/,
  /\b(?:addCommand|onResult)\b/,
  /Can't add new command|socket disconnected before secure TLS|Queue limit reached|No connections available/,
];

describe('the mysql2 boundary', () => {
  it("only src/mysql2-boundary.ts touches mysql2's private members and message texts", () => {
    const offenders = libraryFiles()
      .filter((file) => file !== 'src/mysql2-boundary.ts')
      .flatMap((file) =>
        readFileSync(join(ROOT, file), 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${file}:${i + 1}` }))
          .filter(({ line }) => !/^\s*(\*|\/\/)/.test(line) && MYSQL2_PRIVATE.some((p) => p.test(line)))
          .map(({ line, at }) => `${at}: ${line.trim()}`),
      );
    expect(offenders).toEqual([]);
  });
});

/** A function may run longer only with a reason in its doc comment, introduced by "long:". */
const MAX_FUNCTION_LINES = 80;

describe('function length', () => {
  it(`no function in src/ outside the emulator is over ${MAX_FUNCTION_LINES} lines without a reason`, () => {
    const long: string[] = [];
    for (const file of files('src').filter((f) => !f.startsWith('src/emulator/'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node) => {
        if (ts.isFunctionLike(node) && (node as ts.FunctionLikeDeclaration).body) {
          const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const lines = source.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
          const comment = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? [];
          const reason = comment.some((c) => /\blong:/.test(text.slice(c.pos, c.end)));
          if (lines > MAX_FUNCTION_LINES && !reason) long.push(`${file}:${first + 1} (${lines} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });
});
