/**
 * Query throughput of one variant, in a process of its own: `SELECT 1` at concurrency 1, 16 and 64
 * over a 16-connection pool whose connections are already open. Its own process, so that one variant
 * neither warms up nor slows down another (JIT state, garbage, timers).
 * argv[2]: ours | static | direct; argv[3]: full | quick | cpu-long | cpu-long-quick.
 *
 * `cpu-long` measures only client CPU per query at concurrency 64, over one long closed loop
 * (LONG_RUN_QUERIES) rather than tinybench's short samples: the figure issue #14 sets a 5 % target
 * on, which the samples' spread (0.97x-1.13x between runs of the same code) cannot resolve.
 */
import { pathToFileURL } from 'node:url';
import type { Pool } from 'mysql2/promise';
import { Bench } from 'tinybench';
import {
  countingCredentials,
  directMariaDbPool,
  oursPool,
  type PackageEntry,
  staticTokenPool,
} from '../lib/pools.js';
import { batchSize, CONCURRENCIES, POOL_SIZE, type ThroughputResult } from '../lib/throughput-shape.js';
import { closedLoop, fillPool } from '../lib/workload.js';
import { readChildConfig, report } from './config.js';

const [variant, mode] = process.argv.slice(2);
const cpuOnly = mode === 'cpu-long' || mode === 'cpu-long-quick';
/** Queries in the long CPU run; about 2 s of a 2-core machine at concurrency 64. */
const LONG_RUN_QUERIES = mode === 'cpu-long-quick' ? 2_000 : 20_000;
const config = readChildConfig();
const options = { emulator: config.emulator, database: config.database, connectionLimit: POOL_SIZE };

async function createPool(): Promise<Pool> {
  if (variant === 'ours') {
    const entry = (await import(pathToFileURL(config.packageEntry).href)) as PackageEntry;
    return oursPool(entry, options, countingCredentials());
  }
  if (variant === 'static') return staticTokenPool(options, config.staticToken);
  if (variant === 'direct') return directMariaDbPool(config.backend, POOL_SIZE);
  throw new Error(`unknown variant ${variant}`);
}

const pool = await createPool();
const results: ThroughputResult[] = [];
let longRunCpuMicrosPerQuery: number | undefined;
try {
  await fillPool(pool, POOL_SIZE);
  // A long-running server's steady state: JIT-compiled paths, not a fresh process's first queries.
  await closedLoop(mode === 'quick' || mode === 'cpu-long-quick' ? 500 : 4000, 16, () =>
    pool.query('SELECT 1 AS one'),
  );
  if (cpuOnly) {
    const before = process.cpuUsage();
    await closedLoop(LONG_RUN_QUERIES, 64, () => pool.query('SELECT 1 AS one'));
    const used = process.cpuUsage(before);
    longRunCpuMicrosPerQuery = (used.user + used.system) / LONG_RUN_QUERIES;
  }
  for (const concurrency of cpuOnly ? [] : CONCURRENCIES) {
    const batch = batchSize(concurrency);
    const cpu = { micros: 0, queries: 0 };
    const bench = new Bench({
      time: mode === 'quick' ? 150 : 300,
      iterations: 5,
      warmupTime: mode === 'quick' ? 50 : 150,
      warmupIterations: 2,
      throws: true,
    });
    bench.add(variant ?? '', async () => {
      const before = process.cpuUsage();
      await closedLoop(batch, concurrency, () => pool.query('SELECT 1 AS one'));
      const used = process.cpuUsage(before);
      cpu.micros += used.user + used.system;
      cpu.queries += batch;
    });
    await bench.run();
    const result = bench.tasks[0]?.result;
    if (result?.state !== 'completed') throw new Error(`${variant} c=${concurrency}: ${result?.state}`);
    results.push({
      concurrency,
      medianMs: result.latency.p50,
      samples: result.latency.samplesCount,
      rme: result.latency.rme,
      cpuMicrosPerQuery: cpu.micros / cpu.queries,
    });
  }
} finally {
  await pool.end();
}
report(
  longRunCpuMicrosPerQuery === undefined ? { results } : { cpuMicrosPerQuery: longRunCpuMicrosPerQuery },
);
process.exit(0);
