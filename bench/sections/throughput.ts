import type { Pool } from 'mysql2/promise';
import type { BenchContext } from '../lib/context.js';
import { directMariaDbPool, oursPool, staticTokenPool } from '../lib/pools.js';
import type { ResultRow } from '../lib/report.js';
import { timedRounds } from '../lib/rounds.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { closedLoop, fillPool } from '../lib/workload.js';

const POOL_SIZE = 16;
const CONCURRENCIES = [1, 16, 64] as const;
const TARGET = 0.98;

/**
 * Query throughput: `SELECT 1` (the cheapest query, so any per-query overhead of ours shows the
 * most) at concurrency 1, 16 and 64 over a 16-connection pool, connections already open.
 */
export async function queryThroughput(ctx: BenchContext): Promise<ResultRow[]> {
  const options = {
    emulator: ctx.emulator.address,
    database: ctx.backend.database,
    connectionLimit: POOL_SIZE,
  };
  const pools: Record<string, Pool> = {
    ours: oursPool(ctx.entry, options),
    static: staticTokenPool(options, ctx.staticToken),
    direct: directMariaDbPool(ctx.backend, POOL_SIZE),
  };
  const rows: ResultRow[] = [];
  try {
    for (const pool of Object.values(pools)) await fillPool(pool, POOL_SIZE);
    for (const concurrency of CONCURRENCIES) {
      // Enough queries per sample that the last callers' tail is a small part of it.
      const batch = Math.max(64, concurrency * 8);
      // Client CPU per query: the overhead itself, and much less sensitive than wall-clock
      // throughput to other work on a shared machine.
      const cpu = Object.fromEntries(Object.keys(pools).map((name) => [name, { micros: 0, queries: 0 }]));
      const tasks = Object.entries(pools).map(([name, pool]) => ({
        name,
        fn: async () => {
          const before = process.cpuUsage();
          await closedLoop(batch, concurrency, () => pool.query('SELECT 1 AS one'));
          const used = process.cpuUsage(before);
          const total = cpu[name];
          if (total) {
            total.micros += used.user + used.system;
            total.queries += batch;
          }
        },
      }));
      const results = await timedRounds(tasks, {
        rounds: ctx.quick ? 2 : 6,
        timeMs: ctx.quick ? 150 : 400,
        warmupMs: 100,
      });
      const qps = (name: string) => (results[name] ?? []).map((r) => (batch * 1000) / r.meanMs);
      const samples = (name: string) => (results[name] ?? []).reduce((n, r) => n + r.samples, 0);
      const rounds = results.ours?.length ?? 0;
      const metric = `concurrency ${concurrency}`;
      const ratio = pairedRatio(qps('ours'), qps('static'));
      rows.push({
        section: 'Query throughput (16 connections)',
        metric,
        subject: 'rds-iam-pool',
        baseline: 'mysql2 static token',
        unit: 'queries/s',
        subjectValue: summarize(qps('ours')),
        baselineValue: summarize(qps('static')),
        ratio,
        better: 'higher',
        runs: `${rounds} rounds, ${samples('ours')}+${samples('static')} samples of ${batch} queries`,
        target: { text: `>= ${TARGET}x`, value: TARGET, met: ratio.median >= TARGET },
      });
      rows.push({
        section: 'Query throughput (16 connections)',
        metric,
        subject: 'direct MariaDB, no TLS/emulator',
        baseline: 'mysql2 static token',
        unit: 'queries/s',
        subjectValue: summarize(qps('direct')),
        baselineValue: summarize(qps('static')),
        ratio: pairedRatio(qps('direct'), qps('static')),
        better: 'higher',
        runs: `${rounds} rounds, ${samples('direct')} samples`,
        reference: true,
      });
      const cpuPerQuery = (name: string) => (cpu[name]?.micros ?? 0) / (cpu[name]?.queries ?? 1);
      rows.push({
        section: 'Query throughput (16 connections)',
        metric: `client CPU per query, concurrency ${concurrency}`,
        subject: 'rds-iam-pool',
        baseline: 'mysql2 static token',
        unit: 'µs',
        subjectValue: summarize([cpuPerQuery('ours')]),
        baselineValue: summarize([cpuPerQuery('static')]),
        ratio: summarize([cpuPerQuery('ours') / cpuPerQuery('static')]),
        better: 'lower',
        runs: `${cpu.ours?.queries ?? 0}+${cpu.static?.queries ?? 0} queries (process.cpuUsage)`,
      });
      ctx.log(
        `throughput c=${concurrency}: ours/static ${ratio.median.toFixed(3)}, CPU/query ${cpuPerQuery('ours').toFixed(0)} vs ${cpuPerQuery('static').toFixed(0)} µs`,
      );
    }
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.end()));
  }
  return rows;
}
