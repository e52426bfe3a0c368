/**
 * Who may import what: the tools (CLI, emulator) use the library only through its public entry
 * points and the shared wire code, and nothing under bench/ imports from test/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
          t.startsWith('src/shared/'),
      ),
    ).toEqual([]);
  });

  it('the emulator imports no library internals', () => {
    expect(
      violations('src/emulator', (t) => t.startsWith('src/emulator/') || t.startsWith('src/shared/')),
    ).toEqual([]);
  });

  it('the shared code imports nothing of the library, the emulator or the CLI', () => {
    expect(violations('src/shared', (t) => t.startsWith('src/shared/'))).toEqual([]);
  });

  it('nothing under bench/ imports from test/', () => {
    expect(violations('bench', (t) => !t.startsWith('test/'))).toEqual([]);
  });
});
