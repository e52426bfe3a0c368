/**
 * `npm run chaos`: a fault matrix through the local RDS IAM emulator against the real MariaDB,
 * with a steady workload of reads, single-row writes and two-row transactions, then a long fuzz
 * run. Every hop is on loopback; nothing talks to AWS. Prints one line per scenario and exits
 * non-zero when any scenario breaks a promise (a hang, a lost, duplicated or torn write, an
 * untyped error, a scenario check) or a fuzz property fails.
 *
 *   npm run chaos                                   the whole matrix and 10 000 fuzz inputs per property
 *   npm run chaos -- --only tcp-refused,baseline    some scenarios
 *   npm run chaos -- --fuzz-runs 0                  no fuzzing
 *   npm run chaos -- --markdown out.md              also write the matrix as a markdown table
 *   npm run chaos -- --update-docs                  and put it into docs/reliability.md (only if all passed)
 *   npm run chaos -- --seed 42                      reproduce a fuzz run (the seed is printed)
 *   npm run chaos -- --plant-damage --only baseline --fuzz-runs 0
 *                                                   checks the checker: deletes one committed row,
 *                                                   copies another and plants a secret in an error; must FAIL
 *
 * The `aurora-failover` scenario (aurora-failover.ts) runs last, once per client and outage shape
 * (ours with its defaults, ours with its defaults and every write through withTransaction, mysql2 +
 * rds-signer by hand, aws-advanced-nodejs-wrapper):
 *
 *   npm run chaos -- --only aurora-failover --failovers 10 --fuzz-runs 0
 *                                                   10 failovers per client (2 by default)
 *   --baseline-failovers N                          failovers for the hand-wired pool and the wrapper (default: --failovers)
 *   --clients ours-defaults,ours-transaction        some of the clients
 *   --promotion-ms 5000 --dns-lag-ms 5000           the emulated failover's phases
 *   --outage refuse,tls-cut                         the outage shapes to run each client with (default both:
 *                                                   TCP refused by the restarting instances, as on Aurora,
 *                                                   and connections closed after the TLS handshake)
 *   --plant-damage --only aurora-failover --failovers 1 --fuzz-runs 0
 *                                                   deletes one acknowledged row and copies another; must FAIL
 *
 * The `aurora-readers` scenario (aurora-readers.ts) runs after it, once per read client (ours'
 * reader pool, ours and mysql2 + rds-signer on the reader endpoint, aws-advanced-nodejs-wrapper's
 * read/write splitting), on 3 readers while one is added, one removed, one failed and one promoted:
 *
 *   npm run chaos -- --only aurora-readers --fuzz-runs 0
 *   --reader-clients ours-reader,hand-wired         some of the read clients
 *   --refresh-ms 5000                               ours' topology refresh interval (the added reader's target is it + 5 s)
 *   --reader-outage refuse                          what clients of a failed reader see (refuse or tls-cut)
 *   --plant-damage --only aurora-readers --reader-clients ours-reader --fuzz-runs 0
 *                                                   a write through the reader pool appears in the table; must FAIL
 *
 * With --update-docs, the fault matrix is written when every scenario ran (no --only), the
 * aurora-failover tables (docs/reliability.md, docs/performance.md) when all four clients ran with
 * both outage shapes, the aurora-readers table (docs/reliability.md) when all four read clients ran;
 * each only if everything in it passed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OUTAGE_SHAPES, type OutageShape } from '../../src/emulator/index.js';
import { CLIENT_NAMES, type ClientName } from './aurora-clients.js';
import { type AuroraClientResult, runAuroraFailover } from './aurora-failover.js';
import { type AuroraReadersResult, runAuroraReaders } from './aurora-readers.js';
import { READER_CLIENT_NAMES, type ReaderClientName } from './aurora-readers-clients.js';
import { readersDetailLines, readersMarkdownTable, readersTextTable } from './aurora-readers-report.js';
import {
  auroraComparisonTable,
  auroraDetailLines,
  auroraMarkdownTable,
  auroraTextTable,
} from './aurora-report.js';
import { withBound } from './bounded.js';
import {
  type BackendLogin,
  CHAOS_KEY,
  createChaosDatabase,
  dropChaosDatabase,
  jumpableClock,
  rootConnection,
  startStack,
} from './environment.js';
import { runLongFuzz } from './fuzz.js';
import { LeakCheck } from './leak-check.js';
import { detailLines, markdownTable, type ScenarioRow, textTable } from './report.js';
import { SCENARIOS, type Scenario, sleep } from './scenarios.js';
import { Workload } from './workload.js';

/** The whole run (without aurora-failover) is killed past this, whatever state it is in: it must stop by itself. */
const RUN_LIMIT_MS = 8 * 60_000;
const AURORA = 'aurora-failover';
const READERS = 'aurora-readers';
/** A request (or pool.end()) not settled within this is a hang. */
const HANG_BOUND_MS = 15_000;
const WARMUP_MS = 2000;
/** After the fault: at least this long, and until one request succeeded (at most RECOVERY_LIMIT_MS). */
const RECOVERY_MS = 3000;
const RECOVERY_LIMIT_MS = 20_000;
const WORKLOAD = { workers: 8, hangBoundMs: HANG_BOUND_MS, pauseMs: 5 };
const DOC_FILE = fileURLToPath(new URL('../../docs/reliability.md', import.meta.url));
const PERFORMANCE_FILE = fileURLToPath(new URL('../../docs/performance.md', import.meta.url));
const TABLE_START = '<!-- chaos-matrix:start -->';
const TABLE_END = '<!-- chaos-matrix:end -->';
const AURORA_MARKERS = ['<!-- aurora-failover:start -->', '<!-- aurora-failover:end -->'] as const;
const COMPARISON_MARKERS = ['<!-- aurora-comparison:start -->', '<!-- aurora-comparison:end -->'] as const;
const READERS_MARKERS = ['<!-- aurora-readers:start -->', '<!-- aurora-readers:end -->'] as const;

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    'fuzz-runs': { type: 'string', default: '10000' },
    seed: { type: 'string' },
    markdown: { type: 'string' },
    'plant-damage': { type: 'boolean', default: false },
    'update-docs': { type: 'boolean', default: false },
    failovers: { type: 'string', default: '2' },
    'baseline-failovers': { type: 'string' },
    clients: { type: 'string' },
    'promotion-ms': { type: 'string', default: '5000' },
    'dns-lag-ms': { type: 'string', default: '5000' },
    outage: { type: 'string', default: OUTAGE_SHAPES.join(',') },
    'reader-clients': { type: 'string' },
    'refresh-ms': { type: 'string', default: '5000' },
    'reader-outage': { type: 'string', default: 'refuse' },
  },
});

const auroraClients = (args.clients?.split(',').map((s) => s.trim()) ?? [...CLIENT_NAMES]) as ClientName[];
const failovers = Number(args.failovers);
const baselineFailovers = Number(args['baseline-failovers'] ?? args.failovers);
const promotionMs = Number(args['promotion-ms']);
const dnsLagMs = Number(args['dns-lag-ms']);
const outages = (args.outage ?? '').split(',').map((s) => s.trim()) as OutageShape[];
const readerClients = (args['reader-clients']?.split(',').map((s) => s.trim()) ?? [
  ...READER_CLIENT_NAMES,
]) as ReaderClientName[];
const refreshMs = Number(args['refresh-ms']);
const readerOutage = args['reader-outage'] as OutageShape;
/** Each read client's timeline (see aurora-readers.ts), and room for a slow start and end. */
const readersBudgetMs = readerClients.length * (refreshMs + promotionMs + dnsLagMs + 120_000);
const failoversPerClient = Object.fromEntries(
  CLIENT_NAMES.map((name) => [name, name.startsWith('ours-') ? failovers : baselineFailovers]),
) as Record<ClientName, number>;
/** Each failover: its phases, a settle time, and room for a client that is slow to resume. */
const auroraBudgetMs =
  outages.length *
  auroraClients.reduce(
    (total, name) => total + 20_000 + failoversPerClient[name] * (promotionMs + dnsLagMs + 20_000),
    0,
  );
/** The exact command, for the docs. */
const command = ['npm run chaos', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(
  ' ',
);

const started = performance.now();
const log = (line: string) =>
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);

const runLimitMs = RUN_LIMIT_MS + auroraBudgetMs + readersBudgetMs;
const watchdog = setTimeout(() => {
  console.error(
    `chaos: still running after ${(runLimitMs / 60_000).toFixed(1)} min; stopping (this is a failure)`,
  );
  process.exit(2);
}, runLimitMs);
watchdog.unref();

async function runScenario(scenario: Scenario, login: BackendLogin): Promise<ScenarioRow> {
  const table = `w_${scenario.name.replace(/[^a-z0-9]/g, '_')}`;
  const root = await rootConnection();
  try {
    await root.query(`DROP TABLE IF EXISTS ${table}`);
    await root.query(Workload.createTableSql(table));
    const setup = scenario.setup?.() ?? {};
    const leaks = new LeakCheck(setup.keys ?? [CHAOS_KEY]);
    const clock = jumpableClock();
    const stack = await startStack({
      login,
      ...(setup.keys ? { keys: setup.keys } : {}),
      ...(setup.credentials ? { credentials: setup.credentials } : {}),
      emulatorClock: clock.now,
      pool: { clock: clock.now, ...setup.pool },
    });
    leaks.watch(stack.pool);
    const workload = new Workload(stack.pool, table, {
      ...WORKLOAD,
      onError: (error) => leaks.scan('a failed request', error),
    });
    const ctx = { stack, clock, workload };
    try {
      workload.start();
      await sleep(WARMUP_MS);
      const window = await scenario.inject(ctx);
      await sleep(RECOVERY_MS);
      const recoveryDeadline = performance.now() + RECOVERY_LIMIT_MS;
      while (workload.recoveryMs(window.end) === undefined && performance.now() < recoveryDeadline) {
        await sleep(100);
      }
      await workload.stop();
      const ended = await withBound(stack.pool.end(), HANG_BOUND_MS);
      if (args['plant-damage']) {
        // A lost write and a duplicated one, behind the workload's back: the read-back must see both.
        await root.query(`DELETE FROM ${table} ORDER BY seq LIMIT 1`);
        await root.query(
          `INSERT INTO ${table} (id, worker) SELECT id, worker FROM ${table} ORDER BY seq DESC LIMIT 1`,
        );
        // And an error that carries the secret key: the leak check must see it.
        leaks.scan('a planted error', new Error(`credentials: ${CHAOS_KEY.secretAccessKey}`));
      }
      const verification = await workload.verify(root);
      const counts = workload.counts;
      const emulatorStats = stack.emulator.stats();
      const row: ScenarioRow = {
        name: scenario.name,
        counts,
        verification,
        logins: emulatorStats.loginsAccepted,
        signings: stack.pool.iam.stats().tokensSigned,
        recoveryMs: workload.recoveryMs(window.end),
        endHung: ended === 'timed-out',
        failureCodes: { ...counts.typedFailures, ...counts.untypedFailures },
        refusals: emulatorStats.loginsRejected,
        leakScan: { scanned: leaks.scanned, findings: leaks.findings.length },
        problems: [],
      };
      const p = row.problems;
      if (counts.hangs > 0) p.push(`${counts.hangs} request(s) did not settle within ${HANG_BOUND_MS} ms`);
      if (row.endHung) p.push(`pool.end() did not settle within ${HANG_BOUND_MS} ms`);
      if (verification.lost > 0) p.push(`${verification.lost} committed write(s) missing`);
      if (verification.duplicated > 0) p.push(`${verification.duplicated} id(s) written more than once`);
      if (verification.torn > 0) p.push(`${verification.torn} transaction(s) half applied`);
      if (verification.unexpected > 0) p.push(`${verification.unexpected} row(s) nobody wrote`);
      const untyped = Object.keys(counts.untypedFailures);
      if (untyped.length > 0) p.push(`errors without a code: ${untyped.join('; ')}`);
      if (row.recoveryMs === undefined) p.push('no request succeeded after the fault');
      if (verification.committed === 0) p.push('no write committed at all: the workload did not run');
      for (const finding of leaks.findings.slice(0, 5)) p.push(`leak: ${finding.source}: ${finding.kind}`);
      p.push(...(scenario.check?.(ctx, window) ?? []));
      return row;
    } finally {
      await workload.stop();
      await withBound(stack.pool.end(), HANG_BOUND_MS);
      await stack.close();
      leaks.close();
    }
  } finally {
    await root.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    await root.end();
  }
}

async function main(): Promise<number> {
  const only = args.only?.split(',').map((s) => s.trim());
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const withAurora = !only || only.includes(AURORA);
  const withReaders = !only || only.includes(READERS);
  if (only && scenarios.length + (withAurora ? 1 : 0) + (withReaders ? 1 : 0) !== only.length) {
    const known = [...SCENARIOS.map((s) => s.name), AURORA, READERS].join(', ');
    console.error(`unknown scenario in --only; known: ${known}`);
    return 2;
  }
  const unknownClients = auroraClients.filter((c) => !(CLIENT_NAMES as readonly string[]).includes(c));
  if (unknownClients.length > 0) {
    console.error(
      `unknown client in --clients: ${unknownClients.join(', ')}; known: ${CLIENT_NAMES.join(', ')}`,
    );
    return 2;
  }
  const unknownReaderClients = readerClients.filter(
    (c) => !(READER_CLIENT_NAMES as readonly string[]).includes(c),
  );
  if (unknownReaderClients.length > 0 || !OUTAGE_SHAPES.includes(readerOutage)) {
    console.error(
      `unknown read client in --reader-clients (${unknownReaderClients.join(', ')}; known: ${READER_CLIENT_NAMES.join(', ')}) ` +
        `or shape in --reader-outage (${readerOutage}; known: ${OUTAGE_SHAPES.join(', ')})`,
    );
    return 2;
  }
  const unknownOutages = outages.filter((o) => !OUTAGE_SHAPES.includes(o));
  if (unknownOutages.length > 0 || outages.length === 0) {
    console.error(
      `unknown shape in --outage: ${unknownOutages.join(', ')}; known: ${OUTAGE_SHAPES.join(', ')}`,
    );
    return 2;
  }
  const numbers = { failovers, baselineFailovers, promotionMs, dnsLagMs, refreshMs };
  const bad = Object.entries(numbers).filter(([, n]) => !Number.isInteger(n) || n < 0);
  if (bad.length > 0) {
    console.error(`not a whole number >= 0: ${bad.map(([k]) => k).join(', ')}`);
    return 2;
  }
  const fuzzRuns = Number(args['fuzz-runs']);
  const seed = args.seed === undefined ? Date.now() % 1_000_000 : Number(args.seed);

  log(
    `chaos: ${scenarios.length} scenario(s)${withAurora ? ` and ${AURORA} (${auroraClients.join(', ')})` : ''}` +
      `${withReaders ? ` and ${READERS} (${readerClients.join(', ')})` : ''}, ` +
      `fuzz ${fuzzRuns} inputs per property (seed ${seed}); loopback only`,
  );
  const login = await createChaosDatabase();
  const rows: ScenarioRow[] = [];
  let aurora: AuroraClientResult[] = [];
  let readers: AuroraReadersResult[] = [];
  let fuzzFailed = false;
  try {
    for (const scenario of scenarios) {
      log(`${scenario.name}: ${scenario.fault}`);
      const row = await runScenario(scenario, login);
      rows.push(row);
      log(`${scenario.name}: ${row.problems.length === 0 ? 'PASS' : `FAIL (${row.problems.join('; ')})`}`);
    }
    if (withAurora) {
      aurora = await runAuroraFailover(login, auroraClients, {
        failovers: failoversPerClient,
        outages,
        promotionMs,
        dnsLagMs,
        plantDamage: args['plant-damage'],
        log,
      });
    }
    if (withReaders) {
      readers = await runAuroraReaders(login, readerClients, {
        refreshIntervalMs: refreshMs,
        outage: readerOutage,
        promotionMs,
        dnsLagMs,
        plantDamage: args['plant-damage'],
        log,
      });
    }
    if (fuzzRuns > 0) {
      const results = await runLongFuzz(login, fuzzRuns, seed, log);
      fuzzFailed = results.some((r) => r.failure !== undefined);
    }
  } finally {
    await dropChaosDatabase();
  }

  if (rows.length > 0) console.log(`\n${textTable(rows)}\n\n${detailLines(rows)}\n`);
  if (aurora.length > 0) console.log(`\n${auroraTextTable(aurora)}\n\n${auroraDetailLines(aurora)}\n`);
  if (readers.length > 0) console.log(`\n${readersTextTable(readers)}\n\n${readersDetailLines(readers)}\n`);
  if (args.markdown) {
    const parts = [
      ...(rows.length > 0 ? [markdownTable(rows)] : []),
      ...(aurora.length > 0 ? [auroraMarkdownTable(aurora), auroraComparisonTable(aurora)] : []),
      ...(readers.length > 0 ? [readersMarkdownTable(readers)] : []),
    ];
    writeFileSync(args.markdown, `${parts.join('\n\n')}\n`);
    log(`markdown table written to ${args.markdown}`);
  }
  const failed = rows.filter((r) => r.problems.length > 0).length;
  const auroraFailed =
    aurora.filter((r) => r.problems.length > 0).length + readers.filter((r) => r.problems.length > 0).length;
  if (args['update-docs']) {
    const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
    const machine = `Node ${process.version}, ${cpus().length} cores (load average ${load} at the end)`;
    if (!only && failed === 0 && !fuzzFailed) {
      const fuzz = fuzzRuns > 0 ? `, fuzz ${fuzzRuns} inputs per property (seed ${seed})` : '';
      const run =
        `Run of ${when} UTC, \`${command}\`, ${machine}${fuzz}, ` +
        `${((performance.now() - started) / 1000).toFixed(0)} s in all.`;
      replaceSection(
        DOC_FILE,
        [TABLE_START, TABLE_END],
        `${run}\n\n${markdownTable(rows)}\n\n\`\`\`text\n${detailLines(rows)}\n\`\`\``,
      );
      log(`matrix written to ${DOC_FILE}`);
    }
    if (aurora.length === CLIENT_NAMES.length * OUTAGE_SHAPES.length && auroraFailed === 0) {
      const run =
        `Run of ${when} UTC, \`${command}\`, ${machine}; promotion ${promotionMs / 1000} s, ` +
        `DNS lag ${dnsLagMs / 1000} s, outage shapes ${outages.join(' and ')}.`;
      replaceSection(
        DOC_FILE,
        AURORA_MARKERS,
        `${run}\n\n${auroraMarkdownTable(aurora)}\n\n\`\`\`text\n${auroraDetailLines(aurora)}\n\`\`\``,
      );
      replaceSection(PERFORMANCE_FILE, COMPARISON_MARKERS, `${run}\n\n${auroraComparisonTable(aurora)}`);
      log(`${AURORA} tables written to ${DOC_FILE} and ${PERFORMANCE_FILE}`);
    }
    if (readers.length === READER_CLIENT_NAMES.length && readers.every((r) => r.problems.length === 0)) {
      const run =
        `Run of ${when} UTC, \`${command}\`, ${machine}; topology refresh ${refreshMs / 1000} s, ` +
        `outage ${readerOutage}, promotion ${promotionMs / 1000} s, DNS lag ${dnsLagMs / 1000} s.`;
      replaceSection(
        DOC_FILE,
        READERS_MARKERS,
        `${run}\n\n${readersMarkdownTable(readers)}\n\n\`\`\`text\n${readersDetailLines(readers)}\n\`\`\``,
      );
      log(`${READERS} table written to ${DOC_FILE}`);
    }
  }
  const total = rows.length + aurora.length + readers.length;
  log(
    `chaos: ${total - failed - auroraFailed} of ${total} scenario run(s) passed` +
      (fuzzRuns > 0 ? `, fuzz ${fuzzFailed ? 'FAILED' : 'passed'}` : ''),
  );
  return failed > 0 || auroraFailed > 0 || fuzzFailed ? 1 : 0;
}

/** Replaces what lies between two marker lines in a doc. */
function replaceSection(file: string, [start, end]: readonly [string, string], content: string): void {
  const doc = readFileSync(file, 'utf8');
  const [head, rest] = doc.split(start);
  const tail = rest?.split(end)[1];
  if (head === undefined || tail === undefined) throw new Error(`no ${start} ... ${end} markers in ${file}`);
  writeFileSync(file, `${head}${start}\n${content}\n${end}${tail}`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('chaos: the runner itself failed:', err);
    process.exit(2);
  },
);
