/**
 * One client of the hot-path benchmark (bench/hot-path.ts), in a fresh process: a 16-connection pool
 * against the canned server (bench/children/canned-server.ts), connections open, `SELECT 1` in a
 * closed loop at each concurrency.
 *
 *   argv[2]  variant: ours | static | spin (static, plus a busy wait of argv[5] µs before each query)
 *   argv[3]  mode: cpu (client CPU per query over a long loop) | alloc (heap bytes per query, no GC
 *            in the window; run with --expose-gc and a young generation large enough)
 *   argv[4]  queries measured per concurrency
 *   argv[5]  spin only: the busy wait per query in µs, one per concurrency (`0.8,0.5,0.6`)
 *
 * The canned server's address and CA come in HOT_PATH_CONFIG. Prints one JSON line.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import mysql, { type Pool } from 'mysql2/promise';
import {
  HOT_PATH_CONCURRENCIES,
  HOT_PATH_HOST,
  HOT_PATH_POOL_SIZE,
  type HotPathConfig,
} from '../lib/hot-path-shape.js';
import type { PackageEntry } from '../lib/pools.js';
import { closedLoop, fillPool } from '../lib/workload.js';
import { emulatorSocket, report } from './config.js';

const [variant = '', mode = 'cpu', queriesArg = '30000', spinArg = ''] = process.argv.slice(2);
const queries = Number(queriesArg);
const spinMicrosByConcurrency = spinArg.split(',').map(Number);
let spinMicros = 0;
const config = JSON.parse(process.env.HOT_PATH_CONFIG ?? 'null') as HotPathConfig;
if (!config) throw new Error('HOT_PATH_CONFIG is not set; this child is started by bench/hot-path.ts');
/** Enough for the JIT to settle on the paths a long-running server runs. */
const WARM_UP_QUERIES = 5000;

async function createPool(): Promise<Pool> {
  const common = { host: HOT_PATH_HOST, port: 3306, user: 'app_iam', connectionLimit: HOT_PATH_POOL_SIZE };
  if (variant === 'ours') {
    const entry = (await import(pathToFileURL(config.packageEntry).href)) as PackageEntry;
    return entry.createIamPool({
      ...common,
      connectHost: '127.0.0.1',
      connectPort: config.port,
      ssl: { ca: config.caPem },
      credentials: async () => ({ accessKeyId: 'AKIDHOTPATH', secretAccessKey: 'hot-path-secret' }),
      maxLoginsPerSecond: 0,
    });
  }
  if (variant === 'static' || variant === 'spin') {
    return mysql.createPool({
      ...common,
      password: 'a-static-password',
      enableCleartextPlugin: true,
      ssl: { ca: config.caPem, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' },
      stream: () => emulatorSocket(config.port, '127.0.0.1'),
    });
  }
  throw new Error(`unknown variant ${variant}`);
}

function spin(micros: number): void {
  const until = performance.now() + micros / 1000;
  while (performance.now() < until) {
    // busy: stands for client work of a known cost
  }
}

const pool = await createPool();
const query =
  variant === 'spin'
    ? () => {
        spin(spinMicros);
        return pool.query('SELECT 1 AS one');
      }
    : () => pool.query('SELECT 1 AS one');

/** Client CPU (user + system, every thread of the process) and wall time per query. */
async function cpuPerQuery(concurrency: number) {
  const before = process.cpuUsage();
  const startedAt = performance.now();
  await closedLoop(queries, concurrency, query);
  const wallMs = performance.now() - startedAt;
  const used = process.cpuUsage(before);
  return {
    concurrency,
    cpuMicrosPerQuery: (used.user + used.system) / queries,
    queriesPerSecond: (queries * 1000) / wallMs,
  };
}

/**
 * Heap bytes allocated per query: heapUsed grows by what is allocated as long as no collection
 * runs, which the observer confirms (a window with a GC is reported as such, not as a figure).
 */
async function heapBytesPerQuery(concurrency: number) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('alloc mode needs --expose-gc');
  const collections: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const startedAt = performance.now();
  const before = process.memoryUsage().heapUsed;
  await closedLoop(queries, concurrency, query);
  const after = process.memoryUsage().heapUsed;
  const endedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  observer.disconnect();
  const collected = collections.some((at) => at >= startedAt && at <= endedAt);
  return { concurrency, heapBytesPerQuery: collected ? null : (after - before) / queries };
}

const results: unknown[] = [];
try {
  await fillPool(pool, HOT_PATH_POOL_SIZE);
  for (const [i, concurrency] of HOT_PATH_CONCURRENCIES.entries()) {
    spinMicros = spinMicrosByConcurrency[i] ?? 0;
    await closedLoop(WARM_UP_QUERIES, concurrency, query);
    results.push(mode === 'alloc' ? await heapBytesPerQuery(concurrency) : await cpuPerQuery(concurrency));
  }
} finally {
  await pool.end();
}
report({ node: process.version, results });
process.exit(0);
