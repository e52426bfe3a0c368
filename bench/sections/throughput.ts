import type { BenchContext } from '../lib/context.js';
import { atLeast, type ResultRow } from '../lib/report.js';
import { interleaved, runChild } from '../lib/spawn.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { batchSize, CONCURRENCIES, type ThroughputResult } from '../lib/throughput-shape.js';

const SECTION = 'Query throughput (16 connections)';
const TARGET = 0.98;

/**
 * Query throughput: `SELECT 1` (the cheapest query, so any per-query overhead of ours shows the
 * most) at concurrency 1, 16 and 64 over a 16-connection pool, connections already open. Each
 * variant runs in a fresh process per round; rounds alternate the variants.
 */
export function queryThroughput(ctx: BenchContext): ResultRow[] {
  // Many short rounds: process-to-process variation on a shared 2-core machine is the largest error.
  const rounds = ctx.quick ? 2 : 10;
  const runs = interleaved(['ours', 'static', 'direct'] as const, rounds, (variant) =>
    runChild<{ results: ThroughputResult[] }>(ctx.runner, ctx.children.throughput, [
      variant,
      ctx.quick ? 'quick' : 'full',
    ]),
  );
  const rows: ResultRow[] = [];
  for (const concurrency of CONCURRENCIES) {
    const batch = batchSize(concurrency);
    const at = (variant: keyof typeof runs) =>
      runs[variant].map((run) => {
        const result = run.results.find((r) => r.concurrency === concurrency);
        if (!result) throw new Error(`${variant}: no result at concurrency ${concurrency}`);
        return result;
      });
    const qps = (variant: keyof typeof runs) => at(variant).map((r) => (batch * 1000) / r.medianMs);
    const cpu = (variant: keyof typeof runs) => at(variant).map((r) => r.cpuMicrosPerQuery);
    const samples = (variant: keyof typeof runs) => at(variant).reduce((n, r) => n + r.samples, 0);
    const ratio = pairedRatio(qps('ours'), qps('static'));
    const cpuRatio = pairedRatio(cpu('ours'), cpu('static'));
    const common = {
      section: SECTION,
      baseline: 'mysql2 static token',
      unit: 'queries/s',
      better: 'higher' as const,
    };
    rows.push(
      {
        ...common,
        metric: `concurrency ${concurrency}`,
        subject: 'rds-iam-pool',
        subjectValue: summarize(qps('ours')),
        baselineValue: summarize(qps('static')),
        ratio,
        runs: `${rounds} processes each, ${samples('ours')}+${samples('static')} samples of ${batch} queries`,
        target: atLeast(TARGET, ratio.median),
      },
      {
        ...common,
        metric: `concurrency ${concurrency}`,
        subject: 'direct MariaDB, no TLS/emulator',
        subjectValue: summarize(qps('direct')),
        baselineValue: summarize(qps('static')),
        ratio: pairedRatio(qps('direct'), qps('static')),
        runs: `${rounds} processes, ${samples('direct')} samples`,
        reference: true,
      },
      {
        ...common,
        // Client CPU per query: the overhead itself, and far less sensitive than wall-clock
        // throughput to other work on a shared machine.
        metric: `client CPU per query, concurrency ${concurrency}`,
        subject: 'rds-iam-pool',
        unit: 'µs',
        better: 'lower',
        subjectValue: summarize(cpu('ours')),
        baselineValue: summarize(cpu('static')),
        ratio: cpuRatio,
        runs: `${rounds} processes each (process.cpuUsage)`,
      },
    );
    ctx.log(
      `throughput c=${concurrency}: ours/static ${ratio.median.toFixed(3)}, CPU/query ${summarize(cpu('ours')).median.toFixed(0)} vs ${summarize(cpu('static')).median.toFixed(0)} µs`,
    );
  }
  // Client CPU per query against its target is measured where 2 % can be seen: bench/sections/hot-path.ts.
  return rows;
}
