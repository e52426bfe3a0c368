/**
 * The `aurora-failover` scenario: a steady write workload across repeated failovers of an emulated
 * Aurora cluster, run once per client (see aurora-clients.ts) and outage shape, measuring when
 * writes resume, what callers saw, and whether any acknowledged write was lost or accepted by a reader.
 *
 *   client --TCP--> emulator (a port per endpoint; the TLS server name picks the cluster, reader or
 *                   instance endpoint) --> MariaDB
 *
 * The emulator's failover(): the writer and the reader being promoted go down at once (sessions cut,
 * new connections refused or cut, see below); after `promotionMs` the reader is the writer and the
 * old writer is back as a reader; for `dnsLagMs` more the cluster endpoint still leads to the old writer.
 *
 * Outage shapes (both by default): `refuse`, the restarting instances refuse TCP on their own ports,
 * and so does the cluster endpoint's port while it leads to the down writer, as Aurora's do; `tls-cut`,
 * every port accepts and the connection is closed after the TLS handshake. rds-iam-pool (through
 * `connectTo`) and the AWS wrapper (through mysql2's `stream`) dial each endpoint's own port, as DNS
 * would lead them; the hand-wired pool uses only the cluster endpoint, on its own port.
 *
 * Besides when writes resume, each failover reports the requests in flight at the cut (started
 * before the failover, ended after its start) against the failed ones, the failed requests that
 * started after the cut (the pool could have made them wait), and for ours what `requestOutcome()`
 * says of each failure (the withTransaction client must surface outcome-unknown failures only).
 */
import {
  type ClusterEmulator,
  type FailoverRecord,
  type OutageShape,
  startEmulator,
} from '../../src/emulator/index.js';
import {
  AURORA_IAM_USERS,
  CLIENT_LABELS,
  type ClientName,
  type ConnectionSeen,
  createFailoverClient,
  preciseNow,
} from './aurora-clients.js';
import { type AuroraOutcome, type AuroraVerification, AuroraWorkload } from './aurora-workload.js';
import { withBound } from './bounded.js';
import { type BackendLogin, CHAOS_DATABASE, CHAOS_KEY, MARIADB, rootConnection } from './environment.js';
import { LeakCheck } from './leak-check.js';
import { sleep, until } from './scenarios.js';
import { Workload } from './workload.js';

export interface AuroraFailoverSettings {
  /** Failovers per client. */
  failovers: Record<ClientName, number>;
  /** What clients of the restarting instances see; each client runs once per shape. */
  outages: readonly OutageShape[];
  promotionMs: number;
  dnsLagMs: number;
  /** Checks the checker: delete one acknowledged row and copy another behind the clients' backs. */
  plantDamage?: boolean;
  log(line: string): void;
}

/** One failover as one client lived it; times in ms since the epoch (the emulator's clock). */
export interface FailoverRun {
  from: string;
  to: string;
  startedAt: number;
  promotedAt: number | null;
  dnsUpdatedAt: number | null;
  /** When the first write that started after the failover began was acknowledged. */
  firstWriteAt: number | undefined;
  /** Ours: when the pool had found the new writer (its topologyChanged event). */
  writerFoundAt: number | undefined;
  /** Requests that ended between this failover's start and the next one's (or the end) and failed. */
  failed: number;
  failureCodes: Record<string, number>;
  /** Those failures by what requestOutcome() says of them ('not-sent', 'unknown', 'answered', 'none'). */
  failureOutcomes: Record<string, number>;
  /** Requests in flight at the cut: started before the failover started, ended after. */
  inFlightAtCut: number;
  /**
   * Ours: when the process had seen every connection the cut closed (the pool's connections to the
   * old writer, by endpoint name) close (see FailoverClient.connectionsSeen); undefined for the baselines.
   */
  clientSawCutAt: number | undefined;
  /**
   * Requests that started after the cut but before the process had seen every cut connection close:
   * they may have been sent on a connection the server had already cut, which the client could not
   * know yet (0 for the baselines).
   */
  sentBeforeCutSeen: number;
  /** Of the failed requests: those that started after the cut. */
  failedStartedAfterCut: number;
  /**
   * Of those: the ones the pool could have made wait. A request that started once the cut was seen;
   * or one that started before but whose statement surely did not run (outcome not 'unknown': it was
   * not sent on a cut connection, so the pool failed it itself).
   */
  failedAfterCutSeen: number;
  /** When each failed request that started after the cut started, in ms after the cut, and its code. */
  failedAfterCut: Array<{ atMs: number; code: string }>;
  /** Sessions on the old writer (a reader by then) when the cluster endpoint moved, by endpoint reached. */
  onOldWriterAtMove: Record<string, number>;
  /**
   * Those of them still open a second after the cluster endpoint moved: connections the client
   * keeps on the demoted writer. By endpoint reached.
   */
  leftOnOldWriter: Record<string, number>;
  /** Requests served by the old writer that started a second or more after the cluster endpoint moved. */
  servedByOldWriterAfterLag: number;
}

export interface AuroraClientResult {
  name: ClientName;
  /** The outage shape this run's failovers had. */
  outage: OutageShape;
  label: string;
  runs: FailoverRun[];
  requests: number;
  ok: number;
  hangs: number;
  /** Failures without a stable code (ours must have none). */
  untyped: Record<string, number>;
  verification: AuroraVerification;
  /** Checked inserts acknowledged (attributed to an instance), and how many of them a reader accepted. */
  attributedWrites: number;
  writesOnReader: number;
  /** The issue's target for this client, in ms from the failover start; undefined for the baselines. */
  targetMs: number | undefined;
  counters: Record<string, number>;
  leakScan: { scanned: number; findings: number } | undefined;
  problems: string[];
}

const CALLERS = 4;
const CONNECTIONS = 4;
const HANG_BOUND_MS = 30_000;
const WARMUP_MS = 2000;
/** After the cluster endpoint moved: when to look for connections left on the old writer. */
const LEFT_CHECK_AFTER_MS = 1000;
/** Writes must resume within this after the failover start, or the run is a failure. */
const RESUME_LIMIT_MS = 60_000;
const SETTLE_MS = 1500;

export function isOurs(name: ClientName): boolean {
  return name === 'ours-defaults' || name === 'ours-transaction';
}

/** Issue #19's target for ours on default settings: writes again within the promotion + 0.5 s. */
export const RESUME_TARGET_AFTER_PROMOTION_MS = 500;

/** The issue's target for when writes resume, in ms from the failover start; undefined for the baselines. */
export function targetFor(name: ClientName, promotionMs: number): number | undefined {
  return isOurs(name) ? promotionMs + RESUME_TARGET_AFTER_PROMOTION_MS : undefined;
}

/** Which instance was the writer when, from the emulator's failover records. */
function writerSpans(initialWriter: string, records: readonly FailoverRecord[]) {
  const spans: Array<{ instance: string; from: number; until: number }> = [];
  let writer = initialWriter;
  let since = Number.NEGATIVE_INFINITY;
  for (const r of records) {
    spans.push({ instance: writer, from: since, until: r.startedAt });
    writer = r.to;
    since = r.promotedAt ?? Number.POSITIVE_INFINITY;
  }
  spans.push({ instance: writer, from: since, until: Number.POSITIVE_INFINITY });
  return spans;
}

/**
 * A write was accepted by a reader if the instance said it was read-only, or if that instance was
 * not the writer at any moment while the request ran (by the emulator's own records).
 */
function acceptedByReader(o: AuroraOutcome, spans: ReturnType<typeof writerSpans>): boolean {
  if (o.readOnly) return true;
  return !spans.some((s) => s.instance === o.instance && s.from <= o.endedAt && o.startedAt <= s.until);
}

/**
 * When the process had seen every connection the failover cut close: the client's connections open
 * at the cut (`from`) to the old writer, by the cluster endpoint or the old writer's own endpoint.
 * Infinity if one of them was never seen closing; undefined if there was none.
 */
function cutSeenAt(
  connections: readonly ConnectionSeen[],
  emulator: ClusterEmulator,
  oldWriter: string,
  from: number,
): number | undefined {
  const cut = connections.filter((c) => {
    if (c.openedAt >= from || (c.closeSeenAt !== undefined && c.closeSeenAt < from)) return false;
    const endpoint = emulator.cluster.endpointFor(c.host);
    return endpoint?.kind === 'cluster' || endpoint?.instanceId === oldWriter;
  });
  if (cut.length === 0) return undefined;
  return Math.max(...cut.map((c) => c.closeSeenAt ?? Number.POSITIVE_INFINITY));
}

/** Sessions on `instance` opened before `before`, by the kind of endpoint they reached. */
function sessionsOn(emulator: ClusterEmulator, instance: string, before: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of emulator.sessions()) {
    if (s.instanceId !== instance || s.since >= before) continue;
    const kind = emulator.cluster.endpointFor(s.endpoint)?.kind ?? s.endpoint;
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

export async function runAuroraFailover(
  login: BackendLogin,
  clients: readonly ClientName[],
  settings: AuroraFailoverSettings,
): Promise<AuroraClientResult[]> {
  const results: AuroraClientResult[] = [];
  let index = 0;
  for (const outage of settings.outages) {
    for (const name of clients) {
      settings.log(
        `aurora-failover: ${CLIENT_LABELS[name]}, outage ${outage}, ${settings.failovers[name]} failover(s)`,
      );
      const result = await runClient(name, outage, index++, login, settings);
      results.push(result);
      const resumes = result.runs.map((r) =>
        r.firstWriteAt === undefined ? 'never' : `${((r.firstWriteAt - r.startedAt) / 1000).toFixed(2)} s`,
      );
      settings.log(
        `aurora-failover: ${name} (${outage}): writes resumed after ${resumes.join(', ')}; ` +
          `${result.problems.length === 0 ? 'PASS' : `FAIL (${result.problems.join('; ')})`}`,
      );
    }
  }
  return results;
}

async function runClient(
  name: ClientName,
  outage: OutageShape,
  index: number,
  login: BackendLogin,
  settings: AuroraFailoverSettings,
): Promise<AuroraClientResult> {
  const table = `w_aurora_${name.replace(/[^a-z0-9]/g, '_')}_${outage.replace(/[^a-z0-9]/g, '_')}`;
  const root = await rootConnection();
  // A cluster name per client: the AWS wrapper keeps topology per cluster in static state.
  const emulator = (await startEmulator({
    host: `fo${index}db.cluster-abc123.us-east-1.rds.amazonaws.com`,
    backend: { host: MARIADB.host, port: MARIADB.port, user: MARIADB.user, password: MARIADB.password },
    users: Object.fromEntries(
      AURORA_IAM_USERS.map((u) => [u, { backendUser: login.user, backendPassword: login.password }]),
    ),
    keys: [CHAOS_KEY],
    cluster: { instances: 3, outage },
  })) as ClusterEmulator;
  const leaks = isOurs(name) ? new LeakCheck([CHAOS_KEY]) : undefined;
  try {
    await root.query(`DROP TABLE IF EXISTS ${table}`);
    await root.query(Workload.createTableSql(table));
    const client = await createFailoverClient(name, {
      emulator,
      database: CHAOS_DATABASE,
      credentials: async () => ({ ...CHAOS_KEY }),
      environmentKey: CHAOS_KEY,
      connections: CONNECTIONS,
      onPool: (pool) => leaks?.watch(pool),
    });
    const workload = new AuroraWorkload(client, table, {
      callers: CALLERS,
      hangBoundMs: HANG_BOUND_MS,
      pauseMs: 5,
      onError: (error) => leaks?.scan('a failed request', error),
    });
    const problems: string[] = [];
    const starts: number[] = [];
    const left: Array<Record<string, number>> = [];
    const atMove: Array<Record<string, number>> = [];
    let ended: unknown;
    try {
      workload.start();
      const warm = Date.now();
      if (!(await until(() => workload.writesSucceededAfter(warm) > 0, 15_000, 25))) {
        problems.push('no write succeeded before the first failover');
      }
      await sleep(WARMUP_MS);
      for (let n = 0; n < settings.failovers[name] && problems.length === 0; n++) {
        const instances = emulator.cluster.topology().instances;
        const writer = instances.findIndex((i) => i.role === 'writer');
        // Round the instances: every one of them is promoted and demoted in turn.
        const target = instances[(writer + 1) % instances.length]!.id;
        const startedAt = preciseNow();
        starts.push(startedAt);
        const failover = emulator.cluster.failover({
          target,
          promotionMs: settings.promotionMs,
          dnsLagMs: settings.dnsLagMs,
        });
        const record = await failover.completed;
        const movedAt = record.dnsUpdatedAt ?? Date.now();
        atMove.push(sessionsOn(emulator, failover.from, movedAt));
        await sleep(Math.max(0, movedAt + LEFT_CHECK_AFTER_MS - Date.now()));
        left.push(sessionsOn(emulator, failover.from, movedAt));
        const resumed = await until(
          () => workload.firstWriteAckAfter(startedAt) !== undefined,
          RESUME_LIMIT_MS - (Date.now() - startedAt),
          25,
        );
        if (!resumed)
          problems.push(`writes did not resume within ${RESUME_LIMIT_MS / 1000} s of failover ${n + 1}`);
        await sleep(SETTLE_MS);
      }
    } finally {
      await workload.stop();
      ended = await withBound(client.end(), 15_000);
    }
    if (settings.plantDamage) {
      await root.query(`DELETE FROM ${table} ORDER BY seq LIMIT 1`);
      await root.query(
        `INSERT INTO ${table} (id, worker) SELECT id, worker FROM ${table} ORDER BY seq DESC LIMIT 1`,
      );
    }
    const verification = await workload.verify(root);
    const records = emulator.cluster.topology().failovers;
    const spans = writerSpans(emulator.cluster.instanceEndpoints[0]!.instanceId!, records);
    const found = client.writerFoundAt();
    const connections = client.connectionsSeen?.();
    const outcomes = workload.outcomes;
    const runs: FailoverRun[] = records.map((record, n) => {
      const from = starts[n] ?? record.startedAt;
      const next = starts[n + 1] ?? Number.POSITIVE_INFINITY;
      // A request belongs to the failover during which it ended: the ones cut by it started before it.
      const inWindow = workload.outcomes.filter((o) => o.endedAt >= from && o.endedAt < next);
      const failureCodes: Record<string, number> = {};
      const failureOutcomes: Record<string, number> = {};
      for (const o of inWindow) {
        if (o.ok) continue;
        failureCodes[o.code ?? 'untyped'] = (failureCodes[o.code ?? 'untyped'] ?? 0) + 1;
        failureOutcomes[o.outcome ?? 'none'] = (failureOutcomes[o.outcome ?? 'none'] ?? 0) + 1;
      }
      const lagEnd = (record.dnsUpdatedAt ?? Number.POSITIVE_INFINITY) + LEFT_CHECK_AFTER_MS;
      const seenAt = connections && cutSeenAt(connections, emulator, record.from, from);
      // Without the instrumentation (the baselines), the cut is seen when it is made.
      const seen = seenAt ?? from;
      const afterCut = inWindow.filter((o) => !o.ok && o.startedAt >= from);
      return {
        from: record.from,
        to: record.to,
        startedAt: from,
        promotedAt: record.promotedAt,
        dnsUpdatedAt: record.dnsUpdatedAt,
        firstWriteAt: workload.firstWriteAckAfter(from),
        writerFoundAt: found.find((t) => t >= from && t < next),
        failed: inWindow.filter((o) => !o.ok).length,
        failureCodes,
        failureOutcomes,
        inFlightAtCut: outcomes.filter((o) => o.startedAt < from && o.endedAt >= from).length,
        clientSawCutAt: seenAt,
        sentBeforeCutSeen: outcomes.filter((o) => o.startedAt >= from && o.startedAt < seen).length,
        failedStartedAfterCut: afterCut.length,
        failedAfterCutSeen: afterCut.filter(
          (o) => o.startedAt >= seen || (isOurs(name) && o.outcome !== 'unknown'),
        ).length,
        failedAfterCut: afterCut.map((o) => ({ atMs: o.startedAt - from, code: o.code ?? 'untyped' })),
        onOldWriterAtMove: atMove[n] ?? {},
        leftOnOldWriter: left[n] ?? {},
        servedByOldWriterAfterLag: inWindow.filter(
          (o) => o.ok && o.instance === record.from && o.startedAt >= lagEnd,
        ).length,
      };
    });
    // Steady load before the first failover must not fail: that would be the harness, not a failover.
    const before = outcomes.filter((o) => !o.ok && o.endedAt < (starts[0] ?? Number.POSITIVE_INFINITY));
    if (before.length > 0) problems.push(`${before.length} request(s) failed before the first failover`);
    const attributed = outcomes.filter((o) => o.ok && o.kind === 'checked-insert');
    const untyped: Record<string, number> = {};
    for (const o of outcomes) {
      if (!o.ok && o.code !== undefined && o.code !== 'hang' && !/^[A-Z][A-Z0-9_]+$/.test(o.code)) {
        untyped[o.code] = (untyped[o.code] ?? 0) + 1;
      }
    }
    const result: AuroraClientResult = {
      name,
      outage,
      label: `${CLIENT_LABELS[name]}; outage ${outage}`,
      runs,
      requests: outcomes.length,
      ok: outcomes.filter((o) => o.ok).length,
      hangs: outcomes.filter((o) => o.code === 'hang').length + (ended === 'timed-out' ? 1 : 0),
      untyped,
      verification,
      attributedWrites: attributed.length,
      writesOnReader: attributed.filter((o) => acceptedByReader(o, spans)).length,
      targetMs: targetFor(name, settings.promotionMs),
      // Server-side logins, whoever made them (ours: pool connections and topology reads alike).
      counters: { ...client.counters(), 'logins accepted by the emulator': emulator.stats().loginsAccepted },
      leakScan: leaks ? { scanned: leaks.scanned, findings: leaks.findings.length } : undefined,
      problems,
    };
    check(result, leaks);
    return result;
  } finally {
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

/**
 * What must hold. For every client (these check the emulator and the harness as much as the
 * client): no acknowledged write lost, none applied twice, none accepted by a reader, no hang, and
 * writes resumed after every failover. For ours, the library's promises too: every failure typed,
 * no request that started once the cut was seen failed, with withTransaction only outcome-unknown
 * failures, no connection left on the old writer, nothing secret in an error, event or diagnostics
 * message. The timing target (promotion + 0.5 s) is reported, not enforced (two shared cores).
 */
function check(result: AuroraClientResult, leaks: LeakCheck | undefined): void {
  const p = result.problems;
  const v = result.verification;
  if (v.lost > 0) p.push(`${v.lost} acknowledged write(s) missing`);
  if (v.duplicated > 0) p.push(`${v.duplicated} id(s) written more than once`);
  if (v.unexpected > 0) p.push(`${v.unexpected} row(s) nobody wrote`);
  if (result.writesOnReader > 0) p.push(`${result.writesOnReader} write(s) accepted on a reader`);
  if (v.acknowledged === 0) p.push('no write acknowledged at all');
  if (result.attributedWrites === 0) p.push('no checked insert acknowledged: nothing attributed');
  if (result.hangs > 0) p.push(`${result.hangs} request(s) (or end()) did not settle within the bound`);
  result.runs.forEach((run, n) => {
    if (run.firstWriteAt === undefined) p.push(`no write succeeded after failover ${n + 1}`);
  });
  if (!isOurs(result.name)) return;
  const untyped = Object.keys(result.untyped);
  if (untyped.length > 0) p.push(`errors without a code: ${untyped.join(', ')}`);
  result.runs.forEach((run, n) => {
    // Issue #19: a request that starts during the outage waits for the pool to ride it out.
    if (run.failedAfterCutSeen > 0) {
      p.push(
        `failover ${n + 1}: ${run.failedAfterCutSeen} request(s) that started after the cut was seen failed`,
      );
    }
    // With withTransaction, what a caller still sees is a statement whose outcome is unknown.
    const classified = Object.entries(run.failureOutcomes).filter(([kind]) => kind !== 'unknown');
    if (result.name === 'ours-transaction' && classified.length > 0) {
      p.push(
        `failover ${n + 1}: withTransaction surfaced failures that are not outcome-unknown: ${classified
          .map(([kind, count]) => `${kind} ×${count}`)
          .join(', ')}`,
      );
    }
    const left = Object.values(run.leftOnOldWriter).reduce((a, b) => a + b, 0);
    if (left > 0) p.push(`failover ${n + 1}: ${left} connection(s) left on the old writer after the DNS lag`);
    if (run.servedByOldWriterAfterLag > 0) {
      p.push(
        `failover ${n + 1}: ${run.servedByOldWriterAfterLag} request(s) served by the old writer after the lag`,
      );
    }
  });
  for (const finding of leaks?.findings.slice(0, 5) ?? []) p.push(`leak: ${finding.source}: ${finding.kind}`);
}
