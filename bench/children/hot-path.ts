/**
 * One process of the hot-path benchmark (bench/hot-path.ts, bench/sections/hot-path.ts): pools of 16
 * connections against the canned server (bench/children/canned-server.ts), connections open.
 *
 *   argv[2]  mode: e2e | layer | alloc
 *   argv[3]  e2e, alloc: queries measured per concurrency; layer: blocks per variant and concurrency
 *   argv[4]  e2e, alloc: the variant: ours | static | spin (static plus a busy wait before each query)
 *   argv[5]  spin: the busy wait per query in µs, one per concurrency (`1.9,0.7,0.6`)
 *
 * e2e: one pool; `SELECT 1` in a closed loop at each concurrency; client CPU per query (user + system,
 * process.cpuUsage) and throughput.
 * layer: what ours adds to a query, with no I/O. Three pools in this one process (ours, static: mysql2
 * with a static password, static-again: the same, for the A/A control) take turns, a block each, the
 * order rotated every cycle, so whatever the machine does meanwhile falls on all of them alike; each
 * block starts on an empty young generation (a minor GC outside the measurement). An operation borrows
 * an idle connection and releases it, through mysql2's callback API as pool.query() does, at each
 * concurrency (at 64, borrows wait for the 16 connections). Then the one other thing ours does per
 * query: the statement watcher each command passes through (watchStatementErrors), timed on a
 * connection stand-in against the same stand-in unwatched. Needs --expose-gc.
 * alloc: one pool; heap bytes allocated per query, in a window without garbage collection (run with
 * --expose-gc and a young generation large enough).
 *
 * The canned server's address and CA come in HOT_PATH_CONFIG. Prints one JSON line.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { Pool as CorePool, PoolConnection } from 'mysql2';
import mysql, { type Pool } from 'mysql2/promise';
import { watchStatementErrors } from '../../src/mysql2-boundary.js';
import {
  BORROWS_PER_BLOCK,
  COMMANDS_PER_BLOCK,
  HOT_PATH_CONCURRENCIES,
  HOT_PATH_HOST,
  HOT_PATH_POOL_SIZE,
  type HotPathConfig,
  LAYER_VARIANTS,
} from '../lib/hot-path-shape.js';
import type { PackageEntry } from '../lib/pools.js';
import { closedLoop, fillPool } from '../lib/workload.js';
import { emulatorSocket, report } from './config.js';

const [mode = 'e2e', countArg = '30000', variantArg = 'static', spinArg = ''] = process.argv.slice(2);
const count = Number(countArg);
const spinMicrosByConcurrency = spinArg.split(',').map(Number);
let spinMicros = 0;
const config = JSON.parse(process.env.HOT_PATH_CONFIG ?? 'null') as HotPathConfig;
if (!config) throw new Error('HOT_PATH_CONFIG is not set; this child is started by bench/hot-path.ts');
/** Enough for the JIT to settle on the paths a long-running server runs. */
const WARM_UP_QUERIES = 5000;

async function createPool(variant: string): Promise<Pool> {
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
  if (variant === 'static' || variant === 'static-again' || variant === 'spin') {
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

function queryOf(pool: Pool, variant: string): () => Promise<unknown> {
  return variant === 'spin'
    ? () => {
        spin(spinMicros);
        return pool.query('SELECT 1 AS one');
      }
    : () => pool.query('SELECT 1 AS one');
}

type Gc = (options?: { type: 'minor' | 'major' }) => void;
function collector(): Gc {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (!gc) throw new Error('this mode needs --expose-gc');
  return gc;
}

/**
 * One pool of `variantArg`, connections open; at each concurrency, warms up and then measures with
 * `measure` (e2e and alloc modes).
 */
async function eachConcurrency<T>(
  measure: (query: () => Promise<unknown>, concurrency: number) => Promise<T>,
): Promise<T[]> {
  const pool = await createPool(variantArg);
  const query = queryOf(pool, variantArg);
  const results: T[] = [];
  try {
    await fillPool(pool, HOT_PATH_POOL_SIZE);
    for (const [i, concurrency] of HOT_PATH_CONCURRENCIES.entries()) {
      spinMicros = spinMicrosByConcurrency[i] ?? 0;
      await closedLoop(WARM_UP_QUERIES, concurrency, query);
      results.push(await measure(query, concurrency));
    }
  } finally {
    await pool.end();
  }
  return results;
}

/** e2e: client CPU per query and throughput. */
async function cpuPerQuery(query: () => Promise<unknown>, concurrency: number) {
  const before = process.cpuUsage();
  const startedAt = performance.now();
  await closedLoop(count, concurrency, query);
  const wallMs = performance.now() - startedAt;
  const used = process.cpuUsage(before);
  return {
    concurrency,
    cpuMicrosPerQuery: (used.user + used.system) / count,
    queriesPerSecond: (count * 1000) / wallMs,
  };
}

/** `total` borrows and releases over `concurrency` chains, the way pool.query() borrows. */
function borrowAndRelease(pool: Pool, total: number, concurrency: number): Promise<void> {
  const core = (pool as unknown as { pool: CorePool }).pool;
  let started = 0;
  const chain = () =>
    new Promise<void>((resolve, reject) => {
      const next = () => {
        if (started >= total) return resolve();
        started++;
        core.getConnection((err, connection) => {
          if (err) return reject(err);
          connection.release();
          next();
        });
      };
      next();
    });
  return Promise.all(Array.from({ length: concurrency }, chain)).then(() => undefined);
}

/** CPU µs of `run`, after a minor GC outside the measurement. */
async function cpuOf(run: () => Promise<void> | void, gc: Gc): Promise<number> {
  gc({ type: 'minor' });
  const before = process.cpuUsage();
  await run();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

/** Takes turns between `variants`, `blocks` cycles; returns each variant's cost per unit, per block. */
async function turns(
  variants: readonly string[],
  blocks: number,
  units: number,
  run: (variant: string) => Promise<void> | void,
): Promise<Record<string, number[]>> {
  const gc = collector();
  const cost: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
  for (let cycle = 0; cycle < blocks; cycle++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(cycle + k) % variants.length] as string;
      cost[variant]?.push((await cpuOf(() => run(variant), gc)) / units);
    }
  }
  return cost;
}

/** layer: µs per borrow and release at each concurrency, then µs per command through the watcher. */
async function poolLayer() {
  const pools = new Map(
    await Promise.all(LAYER_VARIANTS.map(async (v) => [v, await createPool(v)] as const)),
  );
  const results = [];
  try {
    await Promise.all([...pools.values()].map((pool) => fillPool(pool, HOT_PATH_POOL_SIZE)));
    for (const concurrency of HOT_PATH_CONCURRENCIES) {
      const run = (variant: string) =>
        borrowAndRelease(pools.get(variant as 'ours') as Pool, BORROWS_PER_BLOCK, concurrency);
      for (const variant of LAYER_VARIANTS) await run(variant);
      results.push({
        concurrency,
        microsPerBorrow: await turns(LAYER_VARIANTS, count, BORROWS_PER_BLOCK, run),
      });
    }
  } finally {
    await Promise.all([...pools.values()].map((pool) => pool.end()));
  }
  return { pool: results, watcher: await watcherCost() };
}

/**
 * µs per command through the statement watcher: a stand-in connection whose addCommand answers each
 * command at once, watched as ours watches every connection, against the same stand-in unwatched.
 */
async function watcherCost() {
  const standIn = () =>
    ({
      addCommand(command: { onResult?: (error: unknown, rows?: unknown, fields?: unknown) => unknown }) {
        return command.onResult?.(null, ROWS, FIELDS);
      },
    }) as unknown as PoolConnection;
  const watched = standIn();
  let errors = 0;
  watchStatementErrors(watched, () => errors++);
  const connections: Record<string, PoolConnection> = { watched, unwatched: standIn() };
  let answered = 0;
  const onResult = () => {
    answered++;
  };
  const run = (variant: string) => {
    const connection = connections[variant] as unknown as { addCommand(c: object): unknown };
    for (let i = 0; i < COMMANDS_PER_BLOCK; i++) connection.addCommand({ onResult });
  };
  for (const variant of ['watched', 'unwatched']) run(variant);
  const cost = await turns(['watched', 'unwatched'], count, COMMANDS_PER_BLOCK, run);
  if (answered === 0 || errors !== 0) throw new Error('the stand-in connections did not answer');
  return cost;
}
const ROWS = [{ one: 1 }];
const FIELDS: unknown[] = [];

/**
 * Heap bytes allocated per query: heapUsed grows by what is allocated as long as no collection
 * runs, which the observer confirms (a window with a GC is reported as such, not as a figure).
 */
async function heapBytesPerQuery(query: () => Promise<unknown>, concurrency: number) {
  const gc = collector();
  const collections: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const startedAt = performance.now();
  const before = process.memoryUsage().heapUsed;
  await closedLoop(count, concurrency, query);
  const after = process.memoryUsage().heapUsed;
  const endedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 20));
  observer.disconnect();
  const collected = collections.some((at) => at >= startedAt && at <= endedAt);
  return { concurrency, heapBytesPerQuery: collected ? null : (after - before) / count };
}

const results =
  mode === 'alloc'
    ? await eachConcurrency(heapBytesPerQuery)
    : mode === 'layer'
      ? await poolLayer()
      : await eachConcurrency(cpuPerQuery);
report({ node: process.version, results });
process.exit(0);
