/**
 * Query throughput of one variant, in a process of its own: `SELECT 1` at concurrency 1, 16 and 64
 * over a 16-connection pool whose connections are already open. Its own process, so that one variant
 * neither warms up nor slows down another (JIT state, garbage, timers).
 * argv[2]: ours | static | direct; argv[3]: full | quick.
 *
 * Client CPU per query is recorded too, but against its target it is measured by the hot-path
 * benchmark (bench/children/hot-path.ts), whose long runs against a canned server can resolve it.
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
try {
  await fillPool(pool, POOL_SIZE);
  // A long-running server's steady state: JIT-compiled paths, not a fresh process's first queries.
  await closedLoop(mode === 'quick' ? 500 : 4000, 16, () => pool.query('SELECT 1 AS one'));
  for (const concurrency of CONCURRENCIES) {
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
report({ results });
process.exit(0);
