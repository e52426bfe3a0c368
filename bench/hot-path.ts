/**
 * `npx tsx bench/hot-path.ts`: only the hot-path rows (the section `npm run bench` also runs, in
 * bench/sections/hot-path.ts), on the Node that runs it or on the Node builds named with --node:
 *
 *   npx tsx bench/hot-path.ts                                   this Node, 10 rounds (about 4 minutes)
 *   npx tsx bench/hot-path.ts --node "$(.ci/node-runtime 22)/node" --node "$(.ci/node-runtime 24)/node"
 *   npx tsx bench/hot-path.ts --quick                           2 short rounds, to try the harness
 *
 * Needs no MariaDB and no emulator: the clients talk to a canned server. Prints the rows; writes nothing.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildPackageEntry, compileChildScripts } from './lib/build.js';
import { textTable } from './lib/report.js';
import { hotPath } from './sections/hot-path.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, node: { type: 'string', multiple: true } },
});
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const log = (text: string) => console.log(text);
log(`load average ${load()}; building the package entry and child scripts`);
const packageEntry = buildPackageEntry();
const children = await compileChildScripts();
const ctx = { children, guard: children['offline-guard'], packageEntry, quick: values.quick ?? false, log };
for (const node of values.node ?? [process.execPath]) {
  const rows = await hotPath(ctx, node);
  console.log(`\n${textTable(rows)}`);
  for (const row of rows) if (row.detail) console.log(`${row.metric}: ${JSON.stringify(row.detail)}`);
}
log(`load average at the end ${load()}`);
