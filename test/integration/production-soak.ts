/**
 * `npm run soak`: 30 seconds of full concurrency through the emulator against the local MariaDB,
 * kept out of `npm test` because it takes half a minute. Loopback only, bounded, no AWS.
 *
 * 50 callers share a pool of 10 connections and loop over plain queries, prepared statements and
 * transactions on a borrowed connection, while the emulator kills a random session every 2 s
 * (reconnects, validation and retries stay exercised). It prints the heap before and after
 * (after a full GC, V8's `heapUsed`) and, at the end, the server's own count of this pool's
 * sessions (`information_schema.PROCESSLIST`) against the pool's; it exits non-zero when the heap
 * grew by more than 5 MB or the counts differ. `SOAK_MS` shortens or lengthens the run.
 */
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { createEmulatorFixture, MARIADB } from '../helpers/emulator-harness.js';
import { poolFor } from '../helpers/pool-fixture.js';

const SOAK_MS = Number(process.env.SOAK_MS ?? 30_000);
const CALLERS = 50;
const CONNECTIONS = 10;
const MAX_HEAP_GROWTH_BYTES = 5 * 1024 * 1024;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (npm run soak does)');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function heapUsed(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

// Own database per run: another engineer's run of this same script must not drop it.
const fx = await createEmulatorFixture({ name: `production_soak_${process.pid}` });
const backendUser = Object.values(fx.backendUsers)[0] as string;
const root = await mysql.createConnection({ ...MARIADB });
const serverSessions = async () => {
  const [rows] = await root.query<RowDataPacket[]>(
    'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
    [backendUser],
  );
  return Number(rows[0]?.n);
};

const pool = poolFor(fx, { connectionLimit: CONNECTIONS });
let running = true;
let queries = 0;
let failures = 0;
const failureCodes: Record<string, number> = {};

async function caller(id: number): Promise<void> {
  for (let i = 0; running; i++) {
    try {
      if (i % 10 === 9) {
        const conn = await pool.getConnection();
        try {
          await conn.beginTransaction();
          await conn.query('SELECT name FROM items WHERE id = ? FOR UPDATE', [1 + (i % 2)]);
          await conn.commit();
        } finally {
          conn.release();
        }
      } else if (i % 2 === 0) {
        await pool.execute('SELECT ? AS caller, COUNT(*) AS n FROM items', [id]);
      } else {
        await pool.query('SELECT ? AS caller, REPEAT(?, 200) AS filler', [id, 'x']);
      }
      queries++;
    } catch (error) {
      // A query running on a session the emulator kills fails; that is the point of the kills.
      failures++;
      const code = String((error as { code?: unknown }).code);
      failureCodes[code] = (failureCodes[code] ?? 0) + 1;
    }
  }
}

async function kills(): Promise<number> {
  let killed = 0;
  while (running) {
    await sleep(2000);
    const sessions = fx.emulator.sessions();
    const victim = sessions[Math.floor(Math.random() * sessions.length)];
    if (victim && running) {
      fx.emulator.faults.dropConnection(victim.id);
      killed++;
    }
  }
  return killed;
}

let exitCode = 0;
try {
  // Warm up first, so the "before" heap includes the pool, the JIT and the TLS session cache.
  const warmup = Array.from({ length: CALLERS }, (_, id) => caller(id));
  await sleep(3000);
  running = false;
  await Promise.all(warmup);
  const heapBefore = heapUsed();
  const queriesBefore = queries;

  running = true;
  const startedAt = Date.now();
  const load = Array.from({ length: CALLERS }, (_, id) => caller(id));
  const killer = kills();
  // A heap sample every 10 s (after a full GC) shows a trend, not just two points.
  const heapSamplesMB: number[] = [];
  for (let waited = 0; waited < SOAK_MS; waited += 10_000) {
    await sleep(Math.min(10_000, SOAK_MS - waited));
    if (waited + 10_000 < SOAK_MS) heapSamplesMB.push(+(heapUsed() / 1048576).toFixed(2));
  }
  running = false;
  await Promise.all(load);
  const elapsedMs = Date.now() - startedAt;
  const killed = await killer;
  await sleep(200); // let the last kill's close reach the server
  const heapAfter = heapUsed();

  const stats = pool.iam.stats();
  const onServer = await serverSessions();
  const summary = {
    soakMs: elapsedMs,
    callers: CALLERS,
    connectionLimit: CONNECTIONS,
    queries: queries - queriesBefore,
    queriesPerSecond: Math.round(((queries - queriesBefore) * 1000) / elapsedMs),
    sessionsKilled: killed,
    failedQueries: failures,
    failureCodes,
    heapBeforeMB: +(heapBefore / 1048576).toFixed(2),
    heapAfterMB: +(heapAfter / 1048576).toFixed(2),
    heapSamplesMB,
    heapGrowthMB: +((heapAfter - heapBefore) / 1048576).toFixed(2),
    poolConnections: stats.connections,
    serverProcesslist: onServer,
    emulatorLiveSessions: fx.emulator.stats().liveSessions,
    connectionsOpened: stats.connectionsOpened,
    tokensSigned: stats.tokensSigned,
    deadOnBorrow: stats.deadOnBorrow,
    acquireTimeMs: stats.acquireTimeMs,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (heapAfter - heapBefore > MAX_HEAP_GROWTH_BYTES) {
    console.error(`heap grew by ${summary.heapGrowthMB} MB`);
    exitCode = 1;
  }
  if (onServer !== stats.connections.total) {
    console.error(`server has ${onServer} sessions for the pool, the pool counts ${stats.connections.total}`);
    exitCode = 1;
  }
} finally {
  running = false;
  await pool.end();
  // After end() the server must hold none of this pool's sessions.
  let left = await serverSessions();
  for (let i = 0; i < 50 && left > 0; i++) {
    await sleep(100);
    left = await serverSessions();
  }
  console.log(`after end(): ${left} sessions on the server`);
  if (left !== 0) exitCode = 1;
  await root.end();
  await fx.teardown();
}
process.exit(exitCode);
