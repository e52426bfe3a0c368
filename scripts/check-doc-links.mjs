// Every link in the Markdown we publish must work for a reader of the installed package
// (node_modules/rds-iam-pool, or the registry page):
// - a relative link resolves to a file (or a folder) inside the packed tarball, and a `#fragment` to a
//   heading of the Markdown file it points at;
// - a link into this repository on GitHub (`<repository>/blob|tree/<branch>/<path>`, for the files
//   the tarball does not carry: examples, bench, tests) names a path that exists in the checkout.
// README.md and docs/*.md must be in the tarball. Run by `npm run check:package`, after the build.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const repository = repositoryWebUrl(pkg.repository);

const [packed] = JSON.parse(
  execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);
const files = new Set(packed.files.map((f) => f.path));
const failures = [];

const expected = [
  'README.md',
  ...execFileSync('git', ['ls-files', 'docs/*.md'], { cwd: ROOT, encoding: 'utf8' }).split('\n'),
].filter(Boolean);
for (const file of expected) if (!files.has(file)) failures.push(`${file} is not in the packed tarball`);

let checked = 0;
for (const file of [...files].filter((f) => f.endsWith('.md')).sort()) {
  for (const { target, line } of linksIn(readFileSync(join(ROOT, file), 'utf8'))) {
    const problem = check(file, target);
    checked++;
    if (problem) failures.push(`${file}:${line}: ${target}: ${problem}`);
  }
}

if (failures.length > 0) {
  console.error(`check-doc-links: ${failures.length} dead link(s)\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(
  `check-doc-links: ${checked} links in the published Markdown resolve inside the tarball or the repository`,
);

function check(from, target) {
  if (target.startsWith('<') && target.endsWith('>')) target = target.slice(1, -1);
  if (repository && (target.startsWith(`${repository}/blob/`) || target.startsWith(`${repository}/tree/`))) {
    const path = decodeURIComponent(target.slice(repository.length).split(/[?#]/)[0])
      .split('/')
      .slice(3) // '', 'blob' | 'tree', <branch>
      .join('/');
    return existsSync(join(ROOT, path)) ? null : 'no such path in the repository';
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null; // another site
  const [pathPart, fragment] = splitFragment(target);
  const path = pathPart === '' ? from : posix.normalize(posix.join(posix.dirname(from), decodeURI(pathPart)));
  if (path.startsWith('../') || path === '..') return 'points outside the package';
  const isFile = files.has(path);
  const isFolder = !isFile && [...files].some((f) => f.startsWith(`${path.replace(/\/$/, '')}/`));
  if (!isFile && !isFolder) {
    return existsSync(join(ROOT, path))
      ? 'exists in the repository but not in the packed tarball (link to it on GitHub instead)'
      : 'no such file';
  }
  if (fragment && path.endsWith('.md')) {
    const anchors = anchorsOf(readFileSync(join(ROOT, path), 'utf8'));
    if (!anchors.has(fragment)) return `no heading #${fragment} in ${path}`;
  }
  return null;
}

function splitFragment(target) {
  const hash = target.indexOf('#');
  const withoutQuery = (s) => s.split('?')[0];
  return hash === -1
    ? [withoutQuery(target), '']
    : [withoutQuery(target.slice(0, hash)), decodeURIComponent(target.slice(hash + 1))];
}

/** Inline links and images, reference definitions, and HTML href/src; code is not prose. */
function linksIn(markdown) {
  const links = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, index) => {
    if (/^\s*(```|~~~)/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const line = raw.replace(/(`+)(?:(?!\1).)+?\1/g, ''); // inline code spans
    const add = (target) => links.push({ target, line: index + 1 });
    for (const m of line.matchAll(/!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+["'(][^)]*)?\)/g))
      add(m[1]);
    const definition = /^\s{0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (definition) add(definition[1]);
    for (const m of line.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)) add(m[1]);
  });
  return links;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(markdown) {
  const anchors = new Set();
  const seen = new Map();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/<a\s+(?:name|id)\s*=\s*"([^"]+)"/g)) anchors.add(m[1]);
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links keep their text
      .replace(/<[^>]+>/g, '');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** `git+https://github.com/o/r.git` -> `https://github.com/o/r` (null when there is none). */
function repositoryWebUrl(field) {
  const url = typeof field === 'string' ? field : field?.url;
  if (!url) return null;
  return url.replace(/^git\+/, '').replace(/\.git$/, '');
}
