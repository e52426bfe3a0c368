import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { BenchContext } from '../lib/context.js';
import { type EmulatorProcess, startEmulatorProcess } from '../lib/emulator-process.js';
import { IAM_USER } from '../lib/env.js';
import { countingCredentials } from '../lib/pools.js';
import { atMost, type ResultRow } from '../lib/report.js';
import { interleavedAsync } from '../lib/spawn.js';
import { pairedRatio, summarize } from '../lib/stats.js';
import { fillPool } from '../lib/workload.js';

const SECTION = 'Read scaling (Aurora, 3 readers, 12 connections)';
const CLUSTER_HOST = 'bench.cluster-abc123.us-east-1.rds.amazonaws.com';
const IDLE_CLUSTER_HOST = 'idle.cluster-abc123.us-east-1.rds.amazonaws.com';
const CONNECTIONS = 12;
/** Callers: more than connections, so that every connection is busy, as under load. */
const CALLERS = 16;
/** Server-side work per read. */
const WORK_SECONDS = 0.005;
/** The idle cluster object's topology refresh interval (the default is 30 s: 2 reads a minute). */
const IDLE_REFRESH_MS = 2000;

type Variant = 'reader-pool' | 'reader-endpoint';
const LABELS: Record<Variant, string> = {
  'reader-pool': 'rds-iam-pool reader pool (createIamReaderPool)',
  'reader-endpoint': 'createIamPool on the reader endpoint',
};

/** One round of one variant: throughput with and without a per-reader limit, and where the connections were. */
interface RoundFigures {
  limitedQps: number;
  plainQps: number;
  /** Connections per reader, most first (the emulator's count). */
  spread: number[];
}

/**
 * Read scaling: 16 callers reading through 12 connections on a cluster with 3 readers, through
 * the reader pool and through one pool on the reader endpoint (`cluster-ro-`, whose DNS record
 * names one reader for 5 s, so a pool that fills within that puts its connections there), both
 * rds-iam-pool with every other option at its default, new pools every round.
 *
 * The emulator's readers all relay to one MariaDB, so a reader has no capacity of its own and
 * spreading alone changes nothing (the `SELECT SLEEP(0.005)` row shows it). A reader's capacity is
 * modelled by a named lock per reader instance: each read takes its reader's lock, sleeps 5 ms and
 * releases it, so each reader serves one read at a time (a reader whose CPU the reads saturate).
 * Then the figure is how many readers' capacity the pool's connections reach.
 *
 * And the topology monitor of an idle cluster object (createIamCluster, one reader and one writer
 * connection idle): logins and topology reads per minute, measured at the same time on a second
 * emulator (the monitor's periodic reads borrow an idle connection, so they should cost no login),
 * then once the pools hold no connection (closed after 1 s idle: `maxIdle: 0, idleTimeout: 1000`,
 * as after `maxLifetimeMs` with nothing borrowed), when each read needs a login of its own.
 */
export async function readScaling(ctx: BenchContext): Promise<ResultRow[]> {
  // One after the other: both prepare the same read-only account for their reader sessions.
  const emulator = await startEmulatorProcess(ctx.backend, { host: CLUSTER_HOST, cluster: { instances: 4 } });
  const idleEmulator = await startEmulatorProcess(ctx.backend, {
    host: IDLE_CLUSTER_HOST,
    cluster: { instances: 4 },
  }).catch(async (err: unknown) => {
    await emulator.stop();
    throw err;
  });
  try {
    const idle = idleMonitorCost(ctx, idleEmulator);
    const rows = await throughput(ctx, emulator);
    rows.push(...(await idle));
    return rows;
  } finally {
    await Promise.all([emulator.stop(), idleEmulator.stop()]);
  }
}

/** Options that reach each endpoint of the emulator's cluster at its own port, as DNS would. */
function clusterOptions(ctx: BenchContext, emulator: EmulatorProcess) {
  const { address } = emulator;
  const endpoints = address.endpoints ?? [];
  return {
    host: address.host,
    port: address.endpointPort,
    user: IAM_USER,
    database: ctx.backend.database,
    connectTo: (host: string) => ({
      host: address.listenHost,
      port: endpoints.find((e) => e.host === host)?.port ?? 1,
    }),
    ssl: { ca: address.ca },
    credentials: countingCredentials(),
  };
}

async function throughput(ctx: BenchContext, emulator: EmulatorProcess): Promise<ResultRow[]> {
  const rounds = ctx.quick ? 1 : 5;
  const measureMs = ctx.quick ? 1000 : 2000;
  const readerEndpoint = emulator.address.endpoints?.find((e) => e.kind === 'reader')?.host ?? '';
  const options = clusterOptions(ctx, emulator);
  const lockPrefix = `${ctx.backend.database}_reader_`;
  const runs = await interleavedAsync(
    ['reader-pool', 'reader-endpoint'] as const,
    rounds,
    async (variant) => {
      const pool =
        variant === 'reader-pool'
          ? ctx.entry.createIamReaderPool({ ...options, connectionLimit: CONNECTIONS })
          : ctx.entry.createIamPool({
              ...options,
              host: readerEndpoint,
              connectionLimit: CONNECTIONS,
              topologyFailover: false,
            });
      try {
        const reads = new InstanceReads(pool, lockPrefix);
        // Every connection open, then a warm-up in which each one learns its reader.
        await fillPool(pool, CONNECTIONS);
        const spread = await readerSessions(emulator);
        await reads.loop(CALLERS, 500, 'limited');
        const limitedQps = await reads.loop(CALLERS, measureMs, 'limited');
        const plainQps = await reads.loop(CALLERS, measureMs, 'plain');
        return { limitedQps, plainQps, spread } satisfies RoundFigures;
      } finally {
        await pool.end();
      }
    },
  );
  const figure = (variant: Variant, key: 'limitedQps' | 'plainQps') => runs[variant].map((r) => r[key]);
  const spreads = (variant: Variant) => runs[variant].map((r) => r.spread.join('/'));
  const rows: ResultRow[] = [];
  for (const [key, metric, reference] of [
    [
      'limitedQps',
      `read throughput, each reader serving one read at a time (5 ms of SLEEP under a per-reader lock)`,
      false,
    ],
    ['plainQps', `read throughput, no per-reader limit (SELECT SLEEP(${WORK_SECONDS}))`, true],
  ] as const) {
    const ratio = pairedRatio(figure('reader-pool', key), figure('reader-endpoint', key));
    rows.push({
      section: SECTION,
      metric,
      subject: LABELS['reader-pool'],
      baseline: LABELS['reader-endpoint'],
      unit: 'queries/s',
      subjectValue: summarize(figure('reader-pool', key)),
      baselineValue: summarize(figure('reader-endpoint', key)),
      ratio,
      better: 'higher',
      runs: `${rounds} rounds of ${measureMs / 1000} s each, new pools every round, ${CALLERS} callers`,
      ...(reference ? { reference: true } : {}),
      detail: {
        readerPoolConnectionsPerReader: spreads('reader-pool').join(', '),
        readerEndpointConnectionsPerReader: spreads('reader-endpoint').join(', '),
      },
    });
    ctx.log(`read scaling (${key}): reader pool / reader endpoint ${ratio.median.toFixed(2)}x`);
  }
  ctx.log(
    `read scaling: connections per reader, reader pool ${spreads('reader-pool').join(', ')}; reader endpoint ${spreads('reader-endpoint').join(', ')}`,
  );
  return rows;
}

/** Sessions per reader instance right now, most first. */
async function readerSessions(emulator: EmulatorProcess): Promise<number[]> {
  const stats = await emulator.stats();
  return (stats.cluster?.instances ?? [])
    .filter((i) => i.role === 'reader')
    .map((i) => i.liveSessions)
    .sort((a, b) => b - a);
}

type Row = RowDataPacket & { id: string };

/** Reads through one pool: each learns its connection's reader once, then reads under that reader's lock. */
class InstanceReads {
  readonly #pool: Pool;
  readonly #lockPrefix: string;
  /** Reader instance per connection (the server's connection id). */
  readonly #instances = new Map<number, string>();

  constructor(pool: Pool, lockPrefix: string) {
    this.#pool = pool;
    this.#lockPrefix = lockPrefix;
  }

  /** `callers` in a closed loop for `ms`: reads per second. */
  async loop(callers: number, ms: number, kind: 'limited' | 'plain'): Promise<number> {
    const deadline = performance.now() + ms;
    const started = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: callers }, async () => {
        while (performance.now() < deadline) {
          await this.#read(kind);
          done++;
        }
      }),
    );
    return (done * 1000) / (performance.now() - started);
  }

  async #read(kind: 'limited' | 'plain'): Promise<void> {
    const connection = await this.#pool.getConnection();
    try {
      if (kind === 'plain') {
        await connection.query(`SELECT SLEEP(${WORK_SECONDS})`);
        return;
      }
      // The lock is held for the sleep only: IF evaluates GET_LOCK first, and `+` its left operand
      // before the right one.
      const lock = `${this.#lockPrefix}${await this.#instanceOf(connection)}`;
      await connection.query(`SELECT IF(GET_LOCK(?, 30), SLEEP(${WORK_SECONDS}) + RELEASE_LOCK(?), NULL)`, [
        lock,
        lock,
      ]);
    } finally {
      connection.release();
    }
  }

  async #instanceOf(connection: PoolConnection): Promise<string> {
    const known = this.#instances.get(connection.threadId);
    if (known !== undefined) return known;
    const [rows] = await connection.query<Row[]>('SELECT @@aurora_server_id AS id');
    const id = String(rows[0]?.id);
    this.#instances.set(connection.threadId, id);
    return id;
  }
}

/** Logins and topology reads the idle emulator counted. */
async function counts(emulator: EmulatorProcess): Promise<{ logins: number; reads: number; at: number }> {
  const stats = await emulator.stats();
  return {
    logins: stats.loginsAccepted,
    reads: stats.cluster?.auroraQueries.topology ?? 0,
    at: performance.now(),
  };
}

/**
 * An idle cluster object's cost per minute: with an idle connection in each pool (the monitor
 * borrows one for its periodic reads), then with none (every read logs in).
 */
async function idleMonitorCost(ctx: BenchContext, emulator: EmulatorProcess): Promise<ResultRow[]> {
  const windowMs = ctx.quick ? 6000 : 25_000;
  const perMinute = (a: { logins: number; reads: number; at: number }, b: typeof a) => {
    const minutes = (b.at - a.at) / 60_000;
    return { logins: (b.logins - a.logins) / minutes, reads: (b.reads - a.reads) / minutes };
  };
  const measure = async (settings: Record<string, unknown>) => {
    const cluster = ctx.entry.createIamCluster({
      ...clusterOptions(ctx, emulator),
      topologyFailover: { refreshIntervalMs: IDLE_REFRESH_MS },
      ...settings,
    });
    try {
      await cluster.reader.query('SELECT 1');
      await cluster.writer.query('SELECT 1');
      // The first read of the topology (a login of its own, before any connection was idle) is
      // over, and with `idleTimeout` the idle connections are closed.
      await new Promise((resolve) => setTimeout(resolve, IDLE_REFRESH_MS + 1500));
      const before = await counts(emulator);
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      return perMinute(before, await counts(emulator));
    } finally {
      await cluster.end();
    }
  };
  const withIdle = await measure({});
  const withNone = await measure({ maxIdle: 0, idleTimeout: 1000 });
  ctx.log(
    `idle cluster object, refresh every ${IDLE_REFRESH_MS / 1000} s: ${withIdle.logins.toFixed(1)} logins and ${withIdle.reads.toFixed(1)} topology reads a minute; ` +
      `with no connection left ${withNone.logins.toFixed(1)} and ${withNone.reads.toFixed(1)}`,
  );
  const row = (
    metric: string,
    figures: { logins: number; reads: number },
    zeroTarget: boolean,
  ): ResultRow => {
    const ratio = figures.reads === 0 ? Number.NaN : figures.logins / figures.reads;
    return {
      section: 'Topology monitor (idle cluster object)',
      metric,
      subject: 'logins a minute',
      baseline: 'topology reads a minute',
      unit: 'count',
      subjectValue: summarize([figures.logins]),
      baselineValue: summarize([figures.reads]),
      ratio: summarize([ratio]),
      better: 'lower',
      runs: `${windowMs / 1000} s idle, topology refresh every ${IDLE_REFRESH_MS / 1000} s (the default, 30 s, reads 2 a minute)`,
      ...(zeroTarget ? { target: { ...atMost(0, ratio), text: '0 logins' } } : { reference: true }),
    };
  };
  return [
    row('an idle connection in each pool (the monitor borrows one)', withIdle, true),
    row('no connection left in either pool (maxIdle: 0, idleTimeout: 1 s)', withNone, false),
  ];
}
