/**
 * The `aurora-readers` scenario: a read workload on an emulated Aurora cluster with 3 readers while a
 * reader is added (Auto Scaling), one is removed, one fails and recovers, and a failover promotes
 * one of them; run once per client (aurora-readers-clients.ts) on the same timeline, measuring where
 * the reads went (each asks `@@aurora_server_id`) and what callers saw.
 *
 *   client --TCP--> emulator (a port per endpoint, as DNS would lead there) --> MariaDB
 *
 * Timeline per client: the pool fills (12 connections), 2 s to settle, a 6 s steady window (spread
 * of connections and of reads over the 3 readers); after a random wait of up to one topology
 * refresh interval (so the added reader lands anywhere in ours' refresh cycle) a reader is added,
 * and the phase lasts the refresh interval + 5 s (the target) + 3 s; the first reader is removed
 * (8 s); the next one fails and recovers after 6 s (12 s); a failover promotes the first available
 * reader (`promotionMs`, then `dnsLagMs`), followed by 5 s more.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type ClusterEmulator, type OutageShape, startEmulator } from '../../src/emulator/index.js';
import { DIAGNOSTICS_CHANNELS, type IamPool, type TokenSignedMessage } from '../../src/index.js';
import {
  createReadClient,
  READER_CLIENT_LABELS,
  READERS_IAM_USERS,
  type ReadClient,
  type ReaderClientName,
} from './aurora-readers-clients.js';
import { type ReadOutcome, ReadWorkload, type WriteVerification } from './aurora-readers-workload.js';
import { withBound } from './bounded.js';
import { type BackendLogin, CHAOS_DATABASE, CHAOS_KEY, MARIADB, rootConnection } from './environment.js';
import { LeakCheck } from './leak-check.js';
import { sleep, until } from './scenarios.js';

export interface AuroraReadersSettings {
  /** ours-reader's topology refresh interval (`topologyFailover.refreshIntervalMs`). */
  refreshIntervalMs: number;
  /** What clients of a failed reader and of the restarting instances see. */
  outage: OutageShape;
  promotionMs: number;
  dnsLagMs: number;
  /** Checks the checker: a write through the reader client appears in the table. Must FAIL. */
  plantDamage?: boolean;
  log(line: string): void;
}

export type ReaderEventKind = 'removed' | 'failed' | 'failover';

/** A reader going away, and the reads around it (ms since the epoch, the emulator's clock). */
export interface ReaderEvent {
  kind: ReaderEventKind;
  /** The reader removed, failed or promoted. */
  instance: string;
  at: number;
  /** The next event (or the end of the run): reads are counted up to here. */
  until: number;
  /** Reads that started at or after `at` and failed, by code. */
  failedAfter: Record<string, number>;
  /** For each of them, how long after `at` it started (ms). */
  failedAfterStartMs: number[];
  /**
   * Of them, those that got a connection the client already had on that instance before `at`: the
   * server had closed it, and the close had not reached the client when the read was sent.
   */
  failedAfterOnItsConnections: number;
  /** Reads that started before `at` and failed after it (in flight when it went away), by code. */
  inFlight: Record<string, number>;
  /** Sessions per available reader at the end of the phase (before the next event). */
  connectionsAtEnd: Record<string, number>;
  /**
   * Removed or failed: successful reads on that instance that started 1 s or more after `at` (and,
   * for a failed reader, before it recovered).
   */
  servedByItAfter: number;
}

/** The reader added while the workload runs. */
export interface AddedReader {
  instance: string;
  /** When it listened (ms since the epoch). */
  at: number;
  /** From the moment it listens (in the topology) until it holds its share of the connections. */
  shareAfterMs: number | undefined;
  /** The phase's length: how long it had. */
  phaseMs: number;
  /** Its share of the reads in the phase's last 3 s, as a percentage of an even share. */
  readShareEndPct: number;
}

/** Steady state with 3 readers: where the connections were and where the reads went. */
export interface SteadyState {
  /** Sessions per reader at the window's end (the emulator's own count). */
  connections: Record<string, number>;
  /** Reads per reader in the window. */
  reads: Record<string, number>;
  /** ours-reader: the pool's own count per instance endpoint. */
  poolView: Record<string, number> | undefined;
}

export interface AuroraReadersResult {
  name: ReaderClientName;
  label: string;
  outage: OutageShape;
  steady: SteadyState;
  added: AddedReader;
  events: ReaderEvent[];
  reads: number;
  readsOk: number;
  /** Successful reads whose session was not read-only: they ran on the writer. */
  readsOnWriter: number;
  /** Writes through the reader client that the client said succeeded, and the others' error codes. */
  writesAcknowledged: number;
  writesRefused: Record<string, number>;
  writes: WriteVerification;
  /** Logins the emulator accepted, in all, and the most in any 1 s window (sampled every 25 ms). */
  logins: number;
  loginsMaxPerSecond: number;
  loginCap: number | undefined;
  /** Tokens signed per endpoint name (ours); undefined when the client does not say. */
  signings: Record<string, number> | undefined;
  /** Distinct valid tokens the emulator saw (tokens signed in the same second are identical). */
  distinctTokens: number;
  hangs: number;
  /** client.end() did not settle within 15 s. */
  endHung: boolean;
  /** Reads that failed before the first reader went away (steady load: must be 0). */
  failedBeforeFirstEvent: number;
  untyped: Record<string, number>;
  counters: Record<string, number>;
  /** Ours: connections the pools closed on purpose, by phase and reason. */
  retiredByPhase: Record<string, Record<string, number>> | undefined;
  leakScan: { scanned: number; findings: number } | undefined;
  /** The issue's targets, for ours-reader; the same figures for the others, unjudged. */
  targets: TargetCheck[];
  /** What broke a promise or the harness; empty for a PASS. */
  problems: string[];
}

export interface TargetCheck {
  target: string;
  value: string;
  met: boolean;
}

export const CONNECTIONS = 12;
const CALLERS = 16;
/** The server-side work of one read: it holds its connection this long. */
export const WORK_SQL = 'SELECT SLEEP(0.02)';
const HANG_BOUND_MS = 30_000;
const FILL_LIMIT_MS = 15_000;
const SETTLE_MS = 2000;
const STEADY_MS = 6000;
const REMOVED_MS = 8000;
const FAILED_MS = 12_000;
const RECOVER_AFTER_MS = 6000;
const AFTER_FAILOVER_MS = 5000;
const SAMPLE_MS = 25;
/**
 * How often a write goes through the reader client. Seldom: a refused write costs some clients their
 * connection (mysql2's pool.query() destroys it; rds-iam-pool on the reader endpoint retires it, taking
 * the read-only error for a sign of a failover), and its replacement moves connections between readers.
 */
const WRITE_EVERY_MS = 5000;
/** Targets (issue #21). */
const MAX_SPREAD = 1;
const MAX_READ_DEVIATION_PCT = 10;
const SHARE_MARGIN_MS = 5000;

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function isOursReader(name: ReaderClientName): boolean {
  return name === 'ours-reader';
}

export async function runAuroraReaders(
  login: BackendLogin,
  clients: readonly ReaderClientName[],
  settings: AuroraReadersSettings,
): Promise<AuroraReadersResult[]> {
  const results: AuroraReadersResult[] = [];
  for (const [index, name] of clients.entries()) {
    settings.log(`aurora-readers: ${READER_CLIENT_LABELS[name]}, outage ${settings.outage}`);
    const result = await runClient(name, index, login, settings);
    results.push(result);
    const steady = spreadOf(result.steady.connections);
    settings.log(
      `aurora-readers: ${name}: steady connections ${JSON.stringify(result.steady.connections)} (spread ${steady}), ` +
        `reads ±${deviationPct(result.steady.reads).toFixed(1)} %, added reader's share after ${
          result.added.shareAfterMs === undefined
            ? 'never'
            : `${(result.added.shareAfterMs / 1000).toFixed(2)} s`
        }; ${result.problems.length === 0 ? 'PASS' : `FAIL (${result.problems.join('; ')})`}`,
    );
  }
  return results;
}

/** max - min of the counts. */
export function spreadOf(counts: Record<string, number>): number {
  const values = Object.values(counts);
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
}

/** The largest distance of a count from the mean, in percent of the mean. */
export function deviationPct(counts: Record<string, number>): number {
  const values = Object.values(counts);
  const mean = values.reduce((a, b) => a + b, 0) / (values.length || 1);
  if (mean === 0) return 100;
  return Math.max(...values.map((v) => (Math.abs(v - mean) / mean) * 100));
}

/** Available readers right now, in instance order. */
function readers(emulator: ClusterEmulator): string[] {
  return emulator.cluster
    .topology()
    .instances.filter((i) => i.role === 'reader' && i.available)
    .map((i) => i.id);
}

/** Logged-in sessions per available reader (0 for a reader without any). */
function sessionsByReader(emulator: ClusterEmulator): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(readers(emulator).map((id) => [id, 0]));
  for (const s of emulator.sessions()) {
    if (s.instanceId !== undefined && s.instanceId in counts) counts[s.instanceId]! += 1;
  }
  return counts;
}

/** Successful reads per instance among `outcomes`, with a 0 for each of `instances` that served none. */
function readsBy(outcomes: readonly ReadOutcome[], instances: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(instances.map((id) => [id, 0]));
  for (const o of outcomes) {
    if (o.kind === 'read' && o.ok && o.instance !== undefined)
      counts[o.instance] = (counts[o.instance] ?? 0) + 1;
  }
  return counts;
}

function countCodes(outcomes: readonly ReadOutcome[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const o of outcomes) codes[o.code ?? 'untyped'] = (codes[o.code ?? 'untyped'] ?? 0) + 1;
  return codes;
}

/** Logins the emulator accepted, sampled, and the most in any window of at most 1 s. */
class LoginSampler {
  readonly #samples: Array<{ at: number; logins: number }> = [];
  readonly #timer: NodeJS.Timeout;

  constructor(emulator: ClusterEmulator) {
    const sample = () =>
      this.#samples.push({ at: performance.now(), logins: emulator.stats().loginsAccepted });
    sample();
    this.#timer = setInterval(sample, SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  maxPerSecond(): number {
    let max = 0;
    let j = 0;
    for (let i = 0; i < this.#samples.length; i++) {
      const s = this.#samples[i]!;
      while (this.#samples[j]!.at < s.at - 1000) j++;
      max = Math.max(max, s.logins - this.#samples[j]!.logins);
    }
    return max;
  }
}

/** One client's run: the emulator and database set-up around the timeline, then the figures. */
async function runClient(
  name: ReaderClientName,
  index: number,
  login: BackendLogin,
  settings: AuroraReadersSettings,
): Promise<AuroraReadersResult> {
  const table = `w_readers_${name.replace(/[^a-z0-9]/g, '_')}`;
  const root = await rootConnection();
  // A cluster name per client: the AWS wrapper keeps topology per cluster in static state.
  const clusterName = `rd${index}db`;
  const emulator = (await startEmulator({
    host: `${clusterName}.cluster-abc123.us-east-1.rds.amazonaws.com`,
    backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
    users: Object.fromEntries(
      READERS_IAM_USERS.map((u) => [u, { backendUser: login.user, backendPassword: login.password }]),
    ),
    keys: [CHAOS_KEY],
    cluster: { instances: 4, outage: settings.outage },
  })) as ClusterEmulator;
  const ours = name === 'ours-reader' || name === 'ours-endpoint';
  const leaks = ours ? new LeakCheck([CHAOS_KEY]) : undefined;
  // Connections our pools closed on purpose, and the instance each was on.
  const retired: Retirement[] = [];
  const watch = (pool: IamPool) => {
    leaks?.watch(pool);
    pool.iam.on('connectionRetired', (m) => {
      const on = emulator.sessions().find((s) => s.id === m.threadId)?.instanceId;
      retired.push({ at: Date.now(), reason: m.reason, instance: on });
    });
  };
  // Every signing of ours in this process, by endpoint name (the pools' events say the same).
  const signed: Record<string, number> = {};
  const onSigned = (m: unknown) => {
    const { hostname } = m as TokenSignedMessage;
    if (hostname.startsWith(`${clusterName}`)) signed[hostname] = (signed[hostname] ?? 0) + 1;
  };
  subscribe(DIAGNOSTICS_CHANNELS.tokenSigned, onSigned);
  try {
    await root.query(`DROP TABLE IF EXISTS ${table}`);
    await root.query(ReadWorkload.createTableSql(table));
    const client = await createReadClient(name, {
      emulator,
      database: CHAOS_DATABASE,
      credentials: async () => ({ ...CHAOS_KEY }),
      environmentKey: CHAOS_KEY,
      connections: CONNECTIONS,
      refreshIntervalMs: settings.refreshIntervalMs,
      onPool: watch,
    });
    const workload = new ReadWorkload(client, table, {
      callers: CALLERS,
      hangBoundMs: HANG_BOUND_MS,
      pauseMs: 1,
      workSql: WORK_SQL,
      writeEveryMs: WRITE_EVERY_MS,
      writerEveryMs: 200,
      onError: (error) => leaks?.scan('a failed request', error),
    });
    const logins = new LoginSampler(emulator);
    let timeline: Timeline | undefined;
    let ended: unknown;
    try {
      workload.start();
      timeline = await runTimeline(emulator, workload, client, settings, (line) =>
        settings.log(`aurora-readers: ${name}: ${line}`),
      );
    } finally {
      await workload.stop();
      logins.stop();
      ended = await withBound(client.end(), 15_000);
    }
    if (settings.plantDamage) {
      // A write through the reader client, accepted behind the client's back: the check must see it.
      await root.query(`INSERT INTO ${table} (id, kind) VALUES (0, 'write')`);
    }
    const writes = await workload.verify(root);
    const stats = emulator.stats();
    const result: AuroraReadersResult = {
      name,
      label: READER_CLIENT_LABELS[name],
      outage: settings.outage,
      ...summarize(workload.outcomes, timeline),
      retiredByPhase: retiredByPhase(retired, timeline),
      writes,
      logins: stats.loginsAccepted,
      loginsMaxPerSecond: logins.maxPerSecond(),
      loginCap: client.loginCap,
      signings: ours ? { ...signed } : client.signingsByHost(),
      distinctTokens: stats.distinctTokens,
      endHung: ended === 'timed-out',
      counters: { ...client.counters(), 'logins accepted by the emulator': stats.loginsAccepted },
      leakScan: leaks ? { scanned: leaks.scanned, findings: leaks.findings.length } : undefined,
      targets: [],
      problems: [],
    };
    result.targets = targetChecks(result, settings);
    check(result, timeline, leaks);
    return result;
  } finally {
    unsubscribe(DIAGNOSTICS_CHANNELS.tokenSigned, onSigned);
    leaks?.close();
    await emulator.stop();
    await root.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    // The read-only account the emulator made for the chaos backend user (dropped with it).
    for (const account of emulator.cluster.readerAccounts) {
      if (account.managed && account.backendUser === login.user) {
        await root.query('DROP USER IF EXISTS ?@?', [account.user, account.host]).catch(() => undefined);
      }
    }
    await root.end();
  }
}

/** A connection one of our pools closed on purpose. */
interface Retirement {
  at: number;
  reason: string;
  instance: string | undefined;
}

/** Our pools' retirements by phase of the timeline (steady, added, removed, failed, failover), then by reason. */
function retiredByPhase(
  retired: readonly Retirement[],
  timeline: Timeline | undefined,
): Record<string, Record<string, number>> | undefined {
  if (retired.length === 0 || timeline === undefined) return retired.length === 0 ? undefined : {};
  const phases = [
    { name: 'added', from: timeline.added.at },
    ...timeline.marks.map((m) => ({ name: m.kind, from: m.at })),
  ];
  const byPhase: Record<string, Record<string, number>> = {};
  for (const r of retired) {
    const phase = [...phases].reverse().find((p) => r.at >= p.from)?.name ?? 'before';
    byPhase[phase] ??= {};
    const reasons = byPhase[phase]!;
    reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
  }
  return byPhase;
}

/** A reader going away, as the timeline did it. */
interface Mark {
  kind: ReaderEventKind;
  instance: string;
  at: number;
  /** The client's sessions on that instance just before (their connection ids). */
  sessionsBefore: Set<number>;
  /** Sessions per available reader when the phase ended (before the next event). */
  connectionsAtEnd?: Record<string, number>;
}

/** What the timeline measured while it ran. */
interface Timeline {
  steady: SteadyState;
  added: AddedReader;
  marks: Mark[];
  end: number;
  /** Connections on readers after the fill (12 expected). */
  filled: number;
}

/** Sessions on `instance` now: the connections a client holds there. */
function sessionIdsOn(emulator: ClusterEmulator, instance: string): Set<number> {
  return new Set(
    emulator
      .sessions()
      .filter((s) => s.instanceId === instance)
      .map((s) => s.id),
  );
}

/**
 * The fill, the steady window, a reader added (Auto Scaling), the first reader removed (scale-in),
 * the second failed and recovered, a failover that promotes the first available reader.
 */
async function runTimeline(
  emulator: ClusterEmulator,
  workload: ReadWorkload,
  client: ReadClient,
  settings: AuroraReadersSettings,
  log: (line: string) => void,
): Promise<Timeline> {
  const onReaders = () => sum(sessionsByReader(emulator));
  if (!(await until(() => onReaders() >= CONNECTIONS, FILL_LIMIT_MS, 50))) {
    log(`${onReaders()} of ${CONNECTIONS} connections on readers after ${FILL_LIMIT_MS / 1000} s`);
  }
  const filled = onReaders();
  await sleep(SETTLE_MS);
  const steadyFrom = Date.now();
  await sleep(STEADY_MS);
  const steadyTo = Date.now();
  const steady: SteadyState = {
    connections: sessionsByReader(emulator),
    reads: readsBy(
      workload.outcomes.filter((o) => o.startedAt >= steadyFrom && o.endedAt <= steadyTo),
      readers(emulator),
    ),
    poolView: client.connectionsByInstance?.(),
  };
  const [first, second] = readers(emulator) as [string, string];
  // At a random moment of ours' topology refresh cycle: how long the added reader waits for its share
  // depends on when the next read of the topology comes.
  await sleep(Math.random() * settings.refreshIntervalMs);
  const added = await addReader(emulator, workload, settings);
  const marks: Mark[] = [];
  const mark = (kind: ReaderEventKind, instance: string) => {
    const previous = marks.at(-1);
    if (previous) previous.connectionsAtEnd = sessionsByReader(emulator);
    marks.push({ kind, instance, at: Date.now(), sessionsBefore: sessionIdsOn(emulator, instance) });
  };

  mark('removed', first);
  emulator.cluster.removeReader(first);
  await sleep(REMOVED_MS);
  mark('failed', second);
  emulator.cluster.failReader(second, { outage: settings.outage, recoverAfterMs: RECOVER_AFTER_MS });
  await sleep(FAILED_MS);
  // The emulator's default target: the first available reader (here the one that recovered).
  const target = readers(emulator)[0] as string;
  mark('failover', target);
  const failover = emulator.cluster.failover({
    target,
    promotionMs: settings.promotionMs,
    dnsLagMs: settings.dnsLagMs,
    outage: settings.outage,
  });
  await failover.completed;
  await sleep(AFTER_FAILOVER_MS);
  const last = marks.at(-1);
  if (last) last.connectionsAtEnd = sessionsByReader(emulator);
  return { steady, added, marks, end: Date.now(), filled };
}

/** Auto Scaling adds a reader (in the topology once it listens): when does it hold its share? */
async function addReader(
  emulator: ClusterEmulator,
  workload: ReadWorkload,
  settings: AuroraReadersSettings,
): Promise<AddedReader> {
  const endpoint = await emulator.cluster.addReader();
  const addedAt = Date.now();
  const instance = endpoint.instanceId ?? '';
  const phaseMs = settings.refreshIntervalMs + SHARE_MARGIN_MS + 3000;
  let shareAfterMs: number | undefined;
  while (Date.now() - addedAt < phaseMs) {
    const counts = sessionsByReader(emulator);
    // Its share: connections per reader differing by at most one from the others'.
    const share = Math.floor(sum(counts) / Object.keys(counts).length);
    if (shareAfterMs === undefined && share > 0 && (counts[instance] ?? 0) >= share) {
      shareAfterMs = Date.now() - addedAt;
    }
    await sleep(50);
  }
  const endReads = readsBy(
    workload.outcomes.filter((o) => o.startedAt >= Date.now() - 3000),
    readers(emulator),
  );
  const endTotal = sum(endReads);
  return {
    instance,
    at: addedAt,
    shareAfterMs,
    phaseMs,
    readShareEndPct:
      endTotal === 0 ? 0 : ((endReads[instance] ?? 0) / endTotal) * Object.keys(endReads).length * 100,
  };
}

/** The figures from the outcomes: per reader that went away, reads on the writer, writes, hangs. */
function summarize(outcomes: readonly ReadOutcome[], timeline: Timeline | undefined) {
  const reads = outcomes.filter((o) => o.kind === 'read');
  const marks = timeline?.marks ?? [];
  const end = timeline?.end ?? Date.now();
  const events: ReaderEvent[] = marks.map((mark, n) => {
    const next = marks[n + 1]?.at ?? end;
    const inWindow = reads.filter((o) => o.endedAt >= mark.at && o.endedAt < next);
    const failedAfter = inWindow.filter((o) => !o.ok && o.startedAt >= mark.at);
    const goneUntil = mark.kind === 'failed' ? mark.at + RECOVER_AFTER_MS : next;
    return {
      kind: mark.kind,
      instance: mark.instance,
      at: mark.at,
      until: next,
      failedAfter: countCodes(failedAfter),
      failedAfterStartMs: failedAfter.map((o) => o.startedAt - mark.at),
      failedAfterOnItsConnections: failedAfter.filter(
        (o) => o.threadId !== undefined && mark.sessionsBefore.has(o.threadId),
      ).length,
      inFlight: countCodes(inWindow.filter((o) => !o.ok && o.startedAt < mark.at)),
      connectionsAtEnd: mark.connectionsAtEnd ?? {},
      servedByItAfter:
        mark.kind === 'failover'
          ? 0
          : inWindow.filter(
              (o) =>
                o.ok &&
                o.instance === mark.instance &&
                o.startedAt >= mark.at + 1000 &&
                o.startedAt < goneUntil,
            ).length,
    };
  });
  const untyped: Record<string, number> = {};
  for (const o of outcomes) {
    if (!o.ok && o.code !== undefined && o.code !== 'hang' && !/^[A-Z][A-Z0-9_]+$/.test(o.code)) {
      untyped[o.code] = (untyped[o.code] ?? 0) + 1;
    }
  }
  return {
    steady: timeline?.steady ?? { connections: {}, reads: {}, poolView: undefined },
    added: timeline?.added ?? {
      instance: '',
      at: 0,
      shareAfterMs: undefined,
      phaseMs: 0,
      readShareEndPct: 0,
    },
    events,
    reads: reads.length,
    readsOk: reads.filter((o) => o.ok).length,
    readsOnWriter: reads.filter((o) => o.ok && o.readOnly === false).length,
    // Steady load must not fail: that would be the harness (or the client), not a fault.
    failedBeforeFirstEvent: reads.filter((o) => !o.ok && o.endedAt < (marks[0]?.at ?? end)).length,
    writesAcknowledged: outcomes.filter((o) => o.kind === 'write' && o.ok).length,
    writesRefused: countCodes(outcomes.filter((o) => o.kind === 'write' && !o.ok)),
    hangs: outcomes.filter((o) => o.code === 'hang').length,
    untyped,
  };
}

/** The issue's targets, evaluated on any client's figures (only ours-reader is held to them). */
export function targetChecks(
  r: AuroraReadersResult,
  settings: Pick<AuroraReadersSettings, 'refreshIntervalMs'>,
): TargetCheck[] {
  const spread = spreadOf(r.steady.connections);
  const deviation = deviationPct(r.steady.reads);
  const shareLimit = settings.refreshIntervalMs + SHARE_MARGIN_MS;
  const goneFailed = r.events
    .filter((e) => e.kind === 'removed' || e.kind === 'failed')
    .reduce((n, e) => n + sum(e.failedAfter), 0);
  const failoverFailed = r.events
    .filter((e) => e.kind === 'failover')
    .reduce((n, e) => n + sum(e.failedAfter), 0);
  const writesAccepted = Math.max(r.writesAcknowledged, r.writes.readerWritesPresent);
  const signingsPerHost = r.signings === undefined ? undefined : Math.max(0, ...Object.values(r.signings));
  return [
    {
      target: `connections per reader differ by <= ${MAX_SPREAD}`,
      value: `${Object.values(r.steady.connections).join('/')} (spread ${spread})`,
      met: spread <= MAX_SPREAD && sum(r.steady.connections) === CONNECTIONS,
    },
    {
      target: `reads per reader within ${MAX_READ_DEVIATION_PCT} % of even`,
      value: `±${deviation.toFixed(1)} %`,
      met: deviation <= MAX_READ_DEVIATION_PCT,
    },
    {
      target: `added reader carries its share within ${seconds(shareLimit)}`,
      value:
        r.added.shareAfterMs === undefined
          ? `not within ${seconds(r.added.phaseMs)}`
          : seconds(r.added.shareAfterMs),
      met: r.added.shareAfterMs !== undefined && r.added.shareAfterMs <= shareLimit,
    },
    {
      target: '0 failed reads started after a reader was removed or failed',
      value: String(goneFailed),
      met: goneFailed === 0,
    },
    {
      target: '0 failed reads started after the failover began',
      value: String(failoverFailed),
      met: failoverFailed === 0,
    },
    { target: '0 reads on the writer', value: String(r.readsOnWriter), met: r.readsOnWriter === 0 },
    {
      target: '0 writes through the reader client accepted',
      value: `${writesAccepted} of ${r.writes.readerWritesAttempted}`,
      met: writesAccepted === 0,
    },
    {
      target: 'logins per second under the cap (+1 for the window edge)',
      value: `${r.loginsMaxPerSecond}${r.loginCap === undefined ? ' (no cap)' : ` (cap ${r.loginCap})`}`,
      met: r.loginCap !== undefined && r.loginsMaxPerSecond <= r.loginCap + 1,
    },
    {
      target: 'one signing per endpoint name per refresh window',
      value:
        signingsPerHost === undefined
          ? `not reported (${r.distinctTokens} distinct tokens at the emulator)`
          : `max ${signingsPerHost} for ${Object.keys(r.signings ?? {}).length} name(s)`,
      met: signingsPerHost !== undefined && signingsPerHost <= 1,
    },
  ];
}

/**
 * What must hold. For every client: the pool filled, reads happened, steady load did not fail, nothing
 * hung, and no acknowledged write through the writer pool went missing (the harness and the
 * emulator). For ours, every failure typed and no secret in an error, event or diagnostics message;
 * for ours-reader, the issue's targets too.
 */
function check(
  result: AuroraReadersResult,
  timeline: Timeline | undefined,
  leaks: LeakCheck | undefined,
): void {
  const p = result.problems;
  if (timeline === undefined) p.push('the timeline did not finish');
  else if (timeline.filled < CONNECTIONS)
    p.push(`only ${timeline.filled} of ${CONNECTIONS} connections on readers after the fill`);
  if (result.readsOk === 0) p.push('no read succeeded');
  if (result.failedBeforeFirstEvent > 0)
    p.push(`${result.failedBeforeFirstEvent} read(s) failed before the first reader went away`);
  if (result.hangs > 0) p.push(`${result.hangs} request(s) did not settle within ${HANG_BOUND_MS} ms`);
  if (result.endHung) p.push('end() did not settle within 15 s');
  if (result.writes.writerWritesLost > 0)
    p.push(`${result.writes.writerWritesLost} acknowledged writer write(s) missing`);
  if (!isOursReader(result.name) && result.name !== 'ours-endpoint') return;
  const untyped = Object.keys(result.untyped);
  if (untyped.length > 0) p.push(`errors without a code: ${untyped.join(', ')}`);
  for (const finding of leaks?.findings.slice(0, 5) ?? []) p.push(`leak: ${finding.source}: ${finding.kind}`);
  if (!isOursReader(result.name)) return;
  for (const t of result.targets) if (!t.met) p.push(`target missed: ${t.target}: ${t.value}`);
}
