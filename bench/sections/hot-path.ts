import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { ChildScript } from '../lib/build.js';
import {
  HOT_PATH_CONCURRENCIES,
  type HotPathAllocResult,
  type HotPathConfig,
  type HotPathCpuResult,
} from '../lib/hot-path-shape.js';
import { atMost, type ResultRow } from '../lib/report.js';
import { interleaved } from '../lib/spawn.js';
import { median, pairedRatio, summarize } from '../lib/stats.js';

const SECTION = 'Hot path (canned server)';
/** Issue #20: client CPU per query within 2 % of a mysql2 pool with a static password. */
const CPU_TARGET = 1.02;
/** The known extra cost the sensitivity check adds to the static pool, as a share of its CPU per query. */
const KNOWN_EXTRA = 0.02;

export interface HotPathContext {
  children: Record<ChildScript, string>;
  /** The offline guard every child preloads. */
  guard: string;
  packageEntry: string;
  quick: boolean;
  log(text: string): void;
}

interface CannedServer {
  port: number;
  caPem: string;
  stop(): void;
}

/** The canned server in a process of its own, on the Node that runs the benchmark. */
async function startCannedServer(script: string): Promise<CannedServer> {
  const child: ChildProcess = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the canned server exited (${code}) before it listened`)));
  });
  const { port, caPem } = JSON.parse(first) as { port: number; caPem: string };
  return { port, caPem, stop: () => child.stdin?.end() };
}

/**
 * Client CPU per query of rds-iam-pool against a mysql2 pool with a static password, where a 2 %
 * difference can be seen: the server answers at once from a process of its own (no emulator, no
 * MariaDB), each client runs in a fresh process on `node`, a long closed loop per concurrency, the
 * variants alternating round by round. Two controls in the same run say what the figures can
 * resolve: the static pool against itself in another process (A/A: the noise), and against itself
 * with a busy wait of 2 % of its own CPU per query before each query (a known +2 %). Heap bytes
 * allocated per query are counted too (a window without garbage collection, --expose-gc).
 */
export async function hotPath(ctx: HotPathContext, node: string = process.execPath): Promise<ResultRow[]> {
  const server = await startCannedServer(ctx.children['canned-server']);
  try {
    const config: HotPathConfig = { packageEntry: ctx.packageEntry, port: server.port, caPem: server.caPem };
    const queries = ctx.quick ? 3000 : 30_000;
    const run = <T>(
      variant: string,
      mode: string,
      count: number,
      extra: string[] = [],
      nodeArgs: string[] = [],
    ) =>
      runClient<{ node: string; results: T[] }>(
        node,
        ctx,
        config,
        [variant, mode, String(count), ...extra],
        nodeArgs,
      );

    // The busy wait that adds 2 %: measured on a static pool first, per concurrency.
    const calibration = run<HotPathCpuResult>('static', 'cpu', queries);
    const spin = calibration.results.map((r) => (r.cpuMicrosPerQuery * KNOWN_EXTRA).toFixed(3));
    ctx.log(
      `hot path on Node ${calibration.node}: a known +2 % is ${spin.join(' / ')} µs of busy wait per query`,
    );

    const rounds = ctx.quick ? 2 : 10;
    const cpu = interleaved(['ours', 'static', 'static-again', 'spin'] as const, rounds, (variant) =>
      variant === 'spin'
        ? run<HotPathCpuResult>('spin', 'cpu', queries, [spin.join(',')])
        : run<HotPathCpuResult>(variant === 'static-again' ? 'static' : variant, 'cpu', queries),
    );
    const allocRounds = ctx.quick ? 1 : 3;
    const youngGeneration = ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256'];
    const alloc = interleaved(['ours', 'static'] as const, allocRounds, (variant) =>
      run<HotPathAllocResult>(variant, 'alloc', ctx.quick ? 1000 : 5000, [], youngGeneration),
    );
    return hotPathRows(calibration.node, cpu, alloc, rounds, queries);
  } finally {
    server.stop();
  }
}

function runClient<T>(
  node: string,
  ctx: HotPathContext,
  config: HotPathConfig,
  args: string[],
  nodeArgs: string[],
): T {
  const result = spawnSync(
    node,
    ['--import', pathToFileURL(ctx.guard).href, ...nodeArgs, ctx.children['hot-path'], ...args],
    {
      env: { PATH: process.env.PATH, HOT_PATH_CONFIG: JSON.stringify(config) },
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (result.status !== 0) {
    throw new Error(
      `hot-path ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr.trim()}`,
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}

type CpuRuns = Record<'ours' | 'static' | 'static-again' | 'spin', Array<{ results: HotPathCpuResult[] }>>;
type AllocRuns = Record<'ours' | 'static', Array<{ results: HotPathAllocResult[] }>>;

function hotPathRows(
  node: string,
  cpu: CpuRuns,
  alloc: AllocRuns,
  rounds: number,
  queries: number,
): ResultRow[] {
  const rows: ResultRow[] = [];
  const common = { section: SECTION, baseline: 'mysql2 static password', better: 'lower' as const };
  const runs = `${rounds} alternating processes each, ${queries.toLocaleString('en')} queries per concurrency (process.cpuUsage), ${node}`;
  for (const concurrency of HOT_PATH_CONCURRENCIES) {
    const at = (variant: keyof CpuRuns) =>
      cpu[variant].map((run) => {
        const r = run.results.find((x) => x.concurrency === concurrency);
        if (!r) throw new Error(`${variant}: no result at concurrency ${concurrency}`);
        return r;
      });
    const micros = (variant: keyof CpuRuns) => at(variant).map((r) => r.cpuMicrosPerQuery);
    const qps = (variant: keyof CpuRuns) => at(variant).map((r) => r.queriesPerSecond);
    const ratio = pairedRatio(micros('ours'), micros('static'));
    const cpuRow = (subject: string, variant: keyof CpuRuns, extra: Partial<ResultRow>): ResultRow => ({
      ...common,
      metric: `client CPU per query, concurrency ${concurrency}`,
      subject,
      unit: 'µs',
      subjectValue: summarize(micros(variant)),
      baselineValue: summarize(micros('static')),
      ratio: pairedRatio(micros(variant), micros('static')),
      runs,
      ...extra,
    });
    rows.push(
      cpuRow('rds-iam-pool', 'ours', { target: atMost(CPU_TARGET, ratio.median) }),
      cpuRow('A/A: the same static pool, another process', 'static-again', { reference: true }),
      cpuRow('a known +2 %: static pool, busy wait of 2 % per query', 'spin', { reference: true }),
      {
        ...common,
        metric: `throughput, concurrency ${concurrency}`,
        subject: 'rds-iam-pool',
        unit: 'queries/s',
        better: 'higher',
        subjectValue: summarize(qps('ours')),
        baselineValue: summarize(qps('static')),
        ratio: pairedRatio(qps('ours'), qps('static')),
        runs,
        reference: true,
      },
      allocRow(alloc, concurrency, node),
    );
  }
  return rows;
}

function allocRow(alloc: AllocRuns, concurrency: number, node: string): ResultRow {
  const bytes = (variant: keyof AllocRuns) =>
    alloc[variant].map((run) => {
      const value = run.results.find((x) => x.concurrency === concurrency)?.heapBytesPerQuery;
      if (value === undefined || value === null) {
        throw new Error(
          `${variant}: a garbage collection ran in the allocation window at concurrency ${concurrency}`,
        );
      }
      return value;
    });
  const ours = bytes('ours');
  const theirs = bytes('static');
  return {
    section: SECTION,
    metric: `heap bytes allocated per query, concurrency ${concurrency}`,
    subject: 'rds-iam-pool',
    baseline: 'mysql2 static password',
    unit: 'B',
    better: 'lower',
    subjectValue: summarize(ours),
    baselineValue: summarize(theirs),
    ratio: pairedRatio(ours, theirs),
    runs: `${ours.length} processes each, no GC in the window (heapUsed), ${node}`,
    detail: { extraBytesPerQuery: Math.round(median(ours) - median(theirs)) },
  };
}
