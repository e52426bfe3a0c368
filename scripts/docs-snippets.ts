/**
 * Reads the code blocks of the Markdown docs for scripts/check-docs.ts: which blocks are checked and
 * how (the `<!-- snippet: ... -->` markers), what each page tells the reader to install, and whether a
 * block imports only that. Pure functions, no I/O, so the rules have unit tests of their own
 * (test/unit/docs-snippets.test.ts). The markers are documented in CONTRIBUTING.md.
 */
import { builtinModules } from 'node:module';

/** How a block is checked. */
export type SnippetMode =
  /** No marker: a complete module, type-checked as a consumer would compile it. */
  | 'check'
  /** Type-checked after a hidden prelude (and next to hidden files) given in the marker. */
  | 'partial'
  /** A complete module (or SQL statements), type-checked and then run against the local MariaDB. */
  | 'run'
  /** Not compiled, with a reason the checker prints; its imports are still held to the page's installs. */
  | 'skip'
  /**
   * A shell command the reader leaves running (an emulator in a second terminal): started in the
   * reader's project before the page's next run block, and stopped after the page's last one.
   */
  | 'background';

export interface Snippet {
  /** Page path as given (e.g. `docs/tls.md`). */
  page: string;
  /** 1-based line of the first line of code (the line after the opening fence). */
  line: number;
  language: 'ts' | 'sql' | 'sh';
  mode: SnippetMode;
  code: string;
  /** For `skip`: why. */
  reason?: string;
  /** For `background`: text the command prints once it is ready for the page's next block. */
  readyText?: string;
  /** For `partial`: code placed before the block (imports, `declare const pool: IamPool;`). */
  prelude: string;
  /** For `partial`: files written next to the block, for its relative imports (`./schema.js`). */
  files: Record<string, string>;
}

export interface SnippetProblem {
  page: string;
  line: number;
  message: string;
}

const TS_LANGUAGES = new Set(['ts', 'typescript']);
const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell']);
const MODES = new Set<SnippetMode>(['check', 'partial', 'run', 'skip', 'background']);
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)?.*$/;
const MARKER_START = /^\s*<!--\s*snippet:\s*(.*)$/;
const FILE_HEADER = /^\s*\/\/\s*file:\s*(\S+)\s*$/;

/**
 * Every TypeScript block of a page, every SQL block marked `run` and every shell block marked
 * `background`, with its marker.
 */
export function readSnippets(
  page: string,
  markdown: string,
): { snippets: Snippet[]; problems: SnippetProblem[] } {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  const problems: SnippetProblem[] = [];
  let pending:
    | { line: number; mode: SnippetMode; reason?: string; readyText?: string; body: string[] }
    | undefined;

  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const marker = MARKER_START.exec(text);
    if (marker) {
      if (pending)
        problems.push({ page, line: pending.line, message: 'snippet marker not followed by a code block' });
      // The comment runs to the first line containing `-->`.
      const first = marker[1] ?? '';
      const headerEnd = first.indexOf('-->');
      const header = (headerEnd >= 0 ? first.slice(0, headerEnd) : first).trim();
      const body: string[] = [];
      if (headerEnd < 0) {
        let j = i + 1;
        for (; j < lines.length && !(lines[j] ?? '').includes('-->'); j++) body.push(lines[j] ?? '');
        if (j === lines.length) {
          problems.push({ page, line: i + 1, message: 'snippet marker is not closed with -->' });
          break;
        }
        const last = (lines[j] ?? '').slice(0, (lines[j] ?? '').indexOf('-->'));
        if (last.trim() !== '') body.push(last);
        i = j;
      }
      const parsed = parseMarkerHeader(header);
      if ('error' in parsed) {
        problems.push({ page, line: i + 1, message: parsed.error });
        pending = undefined;
      } else {
        pending = { line: i + 1, ...parsed, body };
      }
      continue;
    }

    const fence = FENCE.exec(text);
    if (!fence) {
      if (pending && text.trim() !== '') {
        problems.push({ page, line: pending.line, message: 'snippet marker not followed by a code block' });
        pending = undefined;
      }
      continue;
    }
    const indent = fence[1] ?? '';
    const fenceChars = fence[2] ?? '```';
    const language = (fence[3] ?? '').toLowerCase();
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const candidate = lines[j] ?? '';
      const trimmed = candidate.trim();
      if (trimmed.startsWith(fenceChars) && /^[`~]+$/.test(trimmed) && trimmed[0] === fenceChars[0]) break;
      code.push(candidate.startsWith(indent) ? candidate.slice(indent.length) : candidate.trimStart());
    }
    const codeLine = i + 2;
    const marked = pending;
    pending = undefined;
    i = j;

    const isTs = TS_LANGUAGES.has(language);
    const isShell = SHELL_LANGUAGES.has(language);
    if (!isTs && !((language === 'sql' || isShell) && marked)) {
      if (marked)
        problems.push({ page, line: marked.line, message: `snippet marker on a \`${language}\` block` });
      continue;
    }
    const mode = marked?.mode ?? 'check';
    if (language === 'sql' && mode !== 'run') {
      problems.push({ page, line: marked?.line ?? codeLine, message: 'an SQL block can only be marked run' });
      continue;
    }
    if (isShell !== (mode === 'background')) {
      problems.push({
        page,
        line: marked?.line ?? codeLine,
        message: isShell
          ? 'a shell block can only be marked background'
          : 'only a shell block (sh, bash) can be marked background',
      });
      continue;
    }
    const { prelude, files } = splitContext(marked?.body ?? []);
    const hasContext = prelude.trim() !== '' || Object.keys(files).length > 0;
    if (mode === 'partial' && !hasContext) {
      problems.push({
        page,
        line: marked?.line ?? codeLine,
        message: 'a partial block needs the context it assumes (declarations, or `// file:` sections)',
      });
      continue;
    }
    if (mode !== 'partial' && hasContext) {
      problems.push({
        page,
        line: marked?.line ?? codeLine,
        message: `a ${mode} block must stand alone; mark it partial to give it hidden context`,
      });
      continue;
    }
    snippets.push({
      page,
      line: codeLine,
      language: isTs ? 'ts' : isShell ? 'sh' : 'sql',
      mode,
      code: code.join('\n'),
      ...(marked?.reason ? { reason: marked.reason } : {}),
      ...(marked?.readyText ? { readyText: marked.readyText } : {}),
      prelude,
      files,
    });
  }
  if (pending)
    problems.push({ page, line: pending.line, message: 'snippet marker not followed by a code block' });
  return { snippets, problems };
}

function parseMarkerHeader(
  header: string,
): { mode: SnippetMode; reason?: string; readyText?: string } | { error: string } {
  const match = /^(\w+)\s*(?::\s*(.*))?$/.exec(header);
  const mode = match?.[1] as SnippetMode | undefined;
  if (!match || mode === undefined || !MODES.has(mode)) {
    return {
      error: `unknown snippet marker "${header}" (use check, partial, run, skip: <reason> or background: <ready text>)`,
    };
  }
  const argument = match[2]?.trim();
  if (mode === 'skip' && !argument)
    return { error: 'a skipped block must say why: <!-- snippet: skip: <reason> -->' };
  if (mode === 'background' && !argument) {
    return {
      error: 'a background block must say what it prints when ready: <!-- snippet: background: <text> -->',
    };
  }
  if (mode === 'skip') return { mode, reason: argument! };
  if (mode === 'background') return { mode, readyText: argument! };
  if (argument) return { error: `only skip and background take an argument, not ${mode}` };
  return { mode };
}

/** The marker's body: a prelude, then optional `// file: <relative path>` sections. */
function splitContext(body: string[]): { prelude: string; files: Record<string, string> } {
  const prelude: string[] = [];
  const sections: Array<[name: string, lines: string[]]> = [];
  let current = prelude;
  for (const line of body) {
    const header = FILE_HEADER.exec(line);
    if (header) {
      current = [];
      sections.push([(header[1] ?? '').replace(/^\.\//, ''), current]);
    } else {
      current.push(line);
    }
  }
  return {
    prelude: prelude.join('\n'),
    files: Object.fromEntries(sections.map(([name, lines]) => [name, lines.join('\n')])),
  };
}

/**
 * Packages a page tells the reader to install: every `npm install` / `npm i` / `npm add` command on
 * it (in a shell block or inline code), without flags and version ranges.
 */
export function installedByPage(markdown: string): Set<string> {
  const packages = new Set<string>();
  for (const match of markdown.matchAll(/\bnpm\s+(?:install|i|add)\b([^`\n]*)/g)) {
    for (const word of (match[1] ?? '').split(/\s+/)) {
      if (word === '' || word.startsWith('-')) continue;
      if (/^(&&|\|\||;|\||#)/.test(word)) break;
      packages.add(packageOf(stripVersion(word)));
    }
  }
  return packages;
}

function stripVersion(spec: string): string {
  const at = spec.indexOf('@', 1);
  return at > 0 ? spec.slice(0, at) : spec;
}

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Module specifiers a block imports (static, dynamic, `import type`, re-exports, require). */
export function importedSpecifiers(code: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.add(m[1] ?? '');
  return [...found];
}

const BUILTINS = new Set(builtinModules);

/** Packages (not built-ins, not relative paths) that a piece of code imports. */
export function importedPackages(code: string): string[] {
  const packages = new Set<string>();
  for (const specifier of importedSpecifiers(code)) {
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) continue;
    if (BUILTINS.has(specifier) || BUILTINS.has(packageOf(specifier))) continue;
    packages.add(packageOf(specifier));
  }
  return [...packages];
}

/** Everything a block compiles with: hidden prelude, visible code and hidden files. */
export function contextAndCode(snippet: Snippet): string {
  return [snippet.prelude, snippet.code, ...Object.values(snippet.files)].join('\n');
}

/** Problems for a block importing a package its page does not tell the reader to install. */
export function undeclaredImports(
  snippet: Snippet,
  pageInstalls: ReadonlySet<string>,
  self: string,
): string[] {
  return importedPackages(contextAndCode(snippet)).filter((name) => name !== self && !pageInstalls.has(name));
}

/** A repository path as a link's text in backticks: [`examples/lambda/handler.ts`](...). */
const FILE_LINK = /\[`([\w.-]+(?:\/[\w.-]+)+\.(?:ts|mts|cts|js|mjs|cjs|sql))`\]\([^)]*\)/g;

/**
 * The repository file a block shows, if the paragraph right before it (its marker aside) ends with
 * a colon and links that file with its path as the link text:
 * "[`examples/lambda/handler.ts`](https://github.com/.../examples/lambda/handler.ts):".
 */
export function labelledFiles(markdown: string, snippets: readonly Snippet[]): Map<Snippet, string> {
  const lines = markdown.split('\n');
  const labelled = new Map<Snippet, string>();
  for (const snippet of snippets) {
    // snippet.line is the first code line; the fence is the line before it (1-based).
    let i = snippet.line - 3;
    // Skip blank lines and the marker comment between the paragraph and the fence.
    for (;;) {
      while (i >= 0 && (lines[i] ?? '').trim() === '') i--;
      if (i >= 0 && (lines[i] ?? '').trim().endsWith('-->')) {
        while (i >= 0 && !MARKER_START.test(lines[i] ?? '')) i--;
        i--;
        continue;
      }
      break;
    }
    const paragraph: string[] = [];
    for (; i >= 0 && (lines[i] ?? '').trim() !== '' && !FENCE.test(lines[i] ?? ''); i--) {
      paragraph.unshift(lines[i] ?? '');
    }
    const text = paragraph.join(' ').trim();
    if (!text.endsWith(':')) continue;
    const paths = [...text.matchAll(FILE_LINK)].map((m) => m[1] ?? '');
    if (paths.length === 1) labelled.set(snippet, paths[0]!);
  }
  return labelled;
}

/**
 * A repository file as a reader's project has it, which is what a block labelled with it must show:
 * without its leading doc comment and its `// In your project: ...` notes, and with relative imports
 * of the package's entry points (`../../src/index.js`) written as the package's specifiers
 * (`rds-iam-pool`). `entries` maps an entry's source path (`src/emulator/index.ts`) to its specifier.
 */
export function asInReadersProject(
  source: string,
  path: string,
  entries: ReadonlyMap<string, string>,
): string {
  const dir = path.split('/').slice(0, -1);
  const withoutHeader = source.replace(/^\s*\/\*\*[\s\S]*?\*\/\s*\n/, '');
  return withoutHeader
    .split('\n')
    .filter((line) => !/^\s*\/\/ In your project:/.test(line))
    .join('\n')
    .replace(
      /(from\s*|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\2/g,
      (whole, before: string, quote: string, spec: string) => {
        const resolved = resolveRelative(dir, spec).replace(/\.js$/, '.ts');
        const specifier = entries.get(resolved);
        return specifier === undefined ? whole : `${before}${quote}${specifier}${quote}`;
      },
    )
    .trim();
}

function resolveRelative(dir: readonly string[], specifier: string): string {
  const parts = [...dir];
  for (const part of specifier.split('/')) {
    if (part === '..') parts.pop();
    else if (part !== '.') parts.push(part);
  }
  return parts.join('/');
}

/**
 * The package's entry points by source path: `exports` maps `./emulator` to `./dist/emulator/index.js`,
 * which tsup builds from `src/emulator/index.ts`.
 */
export function entrySpecifiers(name: string, exports: Record<string, unknown>): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(exports)) {
    const built = (target as { import?: { default?: string } } | null)?.import?.default;
    if (typeof built !== 'string') continue;
    const source = built.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts');
    entries.set(source, subpath === '.' ? name : `${name}${subpath.slice(1)}`);
  }
  return entries;
}

/** Where a block labelled with a file differs from it: undefined when it shows the file as it is. */
export function labelledFileMismatch(
  snippet: Snippet,
  path: string,
  fileText: string | undefined,
  entries: ReadonlyMap<string, string>,
): string | undefined {
  if (fileText === undefined) return `labelled with ${path}, which is not a file of this repository`;
  const expected = asInReadersProject(fileText, path, entries).split('\n');
  const shown = snippet.code.trim().split('\n');
  const at = expected.findIndex((line, i) => line.trimEnd() !== (shown[i] ?? '').trimEnd());
  if (at < 0 && shown.length === expected.length) return undefined;
  const index = at < 0 ? expected.length : at;
  return (
    `shows ${path}, but differs from it at the block's line ${index + 1}: ` +
    `the file (as in a reader's project) has ${JSON.stringify(expected[index] ?? '(end of file)')}, ` +
    `the block ${JSON.stringify(shown[index] ?? '(end of block)')}`
  );
}
