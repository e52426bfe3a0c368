import {
  type AuroraReadersResult,
  deviationPct,
  isOursReader,
  type ReaderEvent,
  type ReaderEventKind,
  spreadOf,
} from './aurora-readers.js';
import { READER_CLIENT_LABELS } from './aurora-readers-clients.js';
import { formatMarkdownTable, formatTextTable, topCounts } from './report.js';

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** `0`, or `12 (PROTOCOL_CONNECTION_LOST ×12)`. */
function codes(record: Record<string, number>): string {
  const total = sum(record);
  return total === 0 ? '0' : `${total} (${topCounts(record, 2)})`;
}

function event(r: AuroraReadersResult, kind: ReaderEventKind): ReaderEvent | undefined {
  return r.events.find((e) => e.kind === kind);
}

export const READERS_COLUMNS = [
  'client',
  'connections per reader (spread)',
  'reads per reader (max deviation from even)',
  'added reader: its share after',
  'failed reads started after: removed / failed / failover',
  'in flight, failed: removed / failed / failover',
  'reads on the writer',
  'writes through it accepted',
  'logins, most in 1 s (cap)',
  'signings per endpoint name',
  'verdict',
] as const;

export function readersCells(r: AuroraReadersResult): string[] {
  const after = (kind: ReaderEventKind) => codes(event(r, kind)?.failedAfter ?? {});
  const inFlight = (kind: ReaderEventKind) => codes(event(r, kind)?.inFlight ?? {});
  const signings =
    r.signings === undefined
      ? `n/a (${r.distinctTokens} distinct tokens)`
      : `${Math.max(0, ...Object.values(r.signings))} (${sum(r.signings)} for ${Object.keys(r.signings).length} names)`;
  return [
    READER_CLIENT_LABELS[r.name],
    `${Object.values(r.steady.connections).join('/')} (${spreadOf(r.steady.connections)})`,
    `${Object.values(r.steady.reads).join('/')} (±${deviationPct(r.steady.reads).toFixed(1)} %)`,
    r.added.shareAfterMs === undefined
      ? `not within ${seconds(r.added.phaseMs)}`
      : seconds(r.added.shareAfterMs),
    `${after('removed')} / ${after('failed')} / ${after('failover')}`,
    `${inFlight('removed')} / ${inFlight('failed')} / ${inFlight('failover')}`,
    `${r.readsOnWriter} of ${r.readsOk}`,
    `${Math.max(r.writesAcknowledged, r.writes.readerWritesPresent)} of ${r.writes.readerWritesAttempted}`,
    `${r.logins}, ${r.loginsMaxPerSecond} (${r.loginCap ?? 'none'})`,
    signings,
    r.problems.length > 0 ? 'FAIL' : isOursReader(r.name) ? 'PASS' : 'n/a',
  ];
}

export function readersMarkdownTable(results: readonly AuroraReadersResult[]): string {
  return formatMarkdownTable(READERS_COLUMNS, results.map(readersCells), ['client', 'verdict']);
}

export function readersTextTable(results: readonly AuroraReadersResult[]): string {
  return formatTextTable(READERS_COLUMNS, results.map(readersCells));
}

/** Per client: counts, the added reader, each reader that went away, and the targets. */
export function readersDetailLines(results: readonly AuroraReadersResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const counters = Object.entries(r.counters)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(
      `${r.name}: ${r.reads} reads, ${r.readsOk} ok; writes through it ${r.writes.readerWritesAttempted} tried, ` +
        `${r.writesAcknowledged} acknowledged, ${r.writes.readerWritesPresent} in the table, refused ${topCounts(r.writesRefused)}` +
        (r.writes.writerWritesAcknowledged > 0
          ? `; writer pool: ${r.writes.writerWritesAcknowledged} writes acknowledged, ${r.writes.writerWritesLost} missing`
          : '') +
        `; ${counters}` +
        (r.leakScan
          ? `; leak scan ${r.leakScan.scanned} errors/events/messages, ${r.leakScan.findings} finding(s)`
          : ''),
    );
    lines.push(
      `  steady (3 readers): connections ${JSON.stringify(r.steady.connections)}, reads ${JSON.stringify(r.steady.reads)}` +
        (r.steady.poolView
          ? `; the pool's own count ${JSON.stringify(Object.values(r.steady.poolView))}`
          : ''),
    );
    lines.push(
      `  added ${r.added.instance}: its share of the connections after ${
        r.added.shareAfterMs === undefined
          ? `never (${seconds(r.added.phaseMs)})`
          : seconds(r.added.shareAfterMs)
      }; its reads in the phase's last 3 s ${r.added.readShareEndPct.toFixed(0)} % of an even share`,
    );
    for (const e of r.events) {
      lines.push(
        `  ${e.kind} ${e.instance}: failed reads started after ${codes(e.failedAfter)}` +
          (e.failedAfterStartMs.length > 0
            ? ` (started ${e.failedAfterStartMs
                .slice(0, 5)
                .map((ms) => `+${ms} ms`)
                .join(', ')}${e.failedAfterStartMs.length > 5 ? ', ...' : ''}; ` +
              `${e.failedAfterOnItsConnections} of them on a connection the client already had there)`
            : '') +
          `, in flight ${codes(e.inFlight)}; connections per reader at the end ${Object.values(e.connectionsAtEnd).join('/') || 'none'}` +
          (e.servedByItAfter > 0 ? `; ${e.servedByItAfter} read(s) served by it from 1 s after` : ''),
      );
    }
    if (r.retiredByPhase !== undefined) {
      const phases = Object.entries(r.retiredByPhase).map(
        ([phase, reasons]) => `${phase}: ${topCounts(reasons)}`,
      );
      lines.push(
        `  connections closed by the pool on purpose: ${phases.length > 0 ? phases.join('; ') : 'none'}`,
      );
    }
    if (r.signings !== undefined && Object.keys(r.signings).length > 0) {
      lines.push(
        `  signings: ${Object.entries(r.signings)
          .map(([host, n]) => `${host.split('.')[0]} ${n}`)
          .join(', ')}`,
      );
    }
    const missed = r.targets.filter((t) => !t.met);
    lines.push(
      `  targets ${isOursReader(r.name) ? '' : '(not held to them) '}met ${r.targets.length - missed.length} of ${r.targets.length}` +
        (missed.length > 0 ? `; missed: ${missed.map((t) => `${t.target} (${t.value})`).join('; ')}` : ''),
    );
    for (const problem of r.problems) lines.push(`  PROBLEM: ${problem}`);
  }
  return lines.join('\n');
}
