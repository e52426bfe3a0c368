import type { BenchContext } from '../lib/context.js';
import { atMost, type ResultRow } from '../lib/report.js';
import { interleaved, runChild } from '../lib/spawn.js';
import { pairedRatio, summarize } from '../lib/stats.js';

const SECTION = 'Memory (64 open connections, after GC)';
/** Issue #14: RSS of a pool holding 64 open connections against the static-token pool. */
const RSS_TARGET = 1.05;

interface Usage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** RSS and heap of a fresh process holding one pool with 64 open connections: ours vs raw mysql2. */
export function memoryFootprint(ctx: BenchContext): ResultRow[] {
  const runs = ctx.quick ? 2 : 5;
  const results = interleaved(['ours', 'static'] as const, runs, (v) =>
    runChild<{ before: Usage; after: Usage }>(ctx.runner, ctx.children.memory, [v], ['--expose-gc']),
  );
  const mib = (n: number) => n / 1024 / 1024;
  const rows: ResultRow[] = [];
  for (const [key, metric] of [
    ['rss', 'RSS'],
    ['heapUsed', 'heap used'],
  ] as const) {
    const total = (v: 'ours' | 'static') => results[v].map((r) => mib(r.after[key]));
    const pool = (v: 'ours' | 'static') => results[v].map((r) => mib(r.after[key] - r.before[key]));
    const ratio = pairedRatio(total('ours'), total('static'));
    rows.push({
      section: SECTION,
      metric,
      subject: 'rds-iam-pool',
      baseline: 'mysql2 static token',
      unit: 'MiB',
      subjectValue: summarize(total('ours')),
      baselineValue: summarize(total('static')),
      ratio,
      better: 'lower',
      runs: `${runs} processes each`,
      ...(key === 'rss' ? { target: atMost(RSS_TARGET, ratio.median) } : {}),
      detail: {
        poolOnlyMiBOurs: Number(summarize(pool('ours')).median.toFixed(2)),
        poolOnlyMiBBaseline: Number(summarize(pool('static')).median.toFixed(2)),
      },
    });
  }
  ctx.log(`memory: RSS ours/static ${rows[0]?.ratio.median.toFixed(3)}`);
  return rows;
}
