import { quantile } from '../lib/stats.js';
import { CLIENT_LABELS } from './aurora-clients.js';
import type { AuroraClientResult, FailoverRun } from './aurora-failover.js';
import { formatMarkdownTable, formatTextTable, topCounts } from './report.js';

const seconds = (ms: number | undefined) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(2)} s`);
const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

/** Milliseconds from each failover's start to the first acknowledged write after it (undefined = none). */
export function resumeTimes(result: AuroraClientResult): Array<number | undefined> {
  return result.runs.map((r) => (r.firstWriteAt === undefined ? undefined : r.firstWriteAt - r.startedAt));
}

interface ResumeSummary {
  median: number | undefined;
  max: number | undefined;
  /** Runs within the target (all runs resumed for this to be meaningful). */
  withinTarget: number;
}

export function resumeSummary(result: AuroraClientResult): ResumeSummary {
  const times = resumeTimes(result);
  const known = times.filter((t): t is number => t !== undefined);
  const never = times.length - known.length;
  return {
    median: known.length === 0 ? undefined : quantile(known, 0.5),
    max: never > 0 || known.length === 0 ? undefined : Math.max(...known),
    withinTarget: result.targetMs === undefined ? 0 : known.filter((t) => t <= (result.targetMs ?? 0)).length,
  };
}

const leftCount = (run: FailoverRun) => sum(Object.values(run.leftOnOldWriter));
/**
 * Requests in flight at the cut as the client lived it: started before the failover, or after it but
 * before the process saw a connection close (sent into a connection the server had already cut).
 */
export const inFlight = (run: FailoverRun) => run.inFlightAtCut + run.sentBeforeCutSeen;
/** Sessions by endpoint kind: `0`, or `5 (cluster ×4, instance ×1)`. */
const sessionCounts = (counts: Record<string, number>) => {
  const total = sum(Object.values(counts));
  return total === 0 ? '0' : `${total} (${topCounts(counts)})`;
};

function targetCell(result: AuroraClientResult): string {
  if (result.targetMs === undefined) return 'n/a';
  const s = resumeSummary(result);
  return `<= ${seconds(result.targetMs)}: ${s.withinTarget} of ${result.runs.length}`;
}

/** Milliseconds from each failover's promotion to the first acknowledged write after its start. */
export function afterPromotion(result: AuroraClientResult): number[] {
  return result.runs.flatMap((r) =>
    r.firstWriteAt === undefined || r.promotedAt === null ? [] : [r.firstWriteAt - r.promotedAt],
  );
}

const signedSeconds = (ms: number) => `${ms < 0 ? '-' : '+'}${(Math.abs(ms) / 1000).toFixed(2)} s`;
const range = (values: number[], format: (n: number) => string) =>
  values.length === 0
    ? 'n/a'
    : Math.min(...values) === Math.max(...values)
      ? format(values[0] as number)
      : `${format(Math.min(...values))} to ${format(Math.max(...values))}`;

/** Failures that are not outcome-unknown ones (the statement surely did not run, or the error is the application's). */
export function notOutcomeUnknown(result: AuroraClientResult): number {
  return sum(
    result.runs.map((r) =>
      sum(Object.entries(r.failureOutcomes).map(([kind, n]) => (kind === 'unknown' ? 0 : n))),
    ),
  );
}

/**
 * Failovers whose failed requests were no more than those in flight at the cut, as the client lived
 * it; for ours also by the harness's clock alone (requests started before the failover), which counts
 * the requests sent into connections already cut, before the process could know, as failures only.
 */
function withinInFlight(result: AuroraClientResult): string {
  const n = result.runs.length;
  const asLived = result.runs.filter((r) => r.failed <= inFlight(r)).length;
  if (result.runs.every((r) => r.clientSawCutAt === undefined)) return `${asLived} of ${n}`;
  const byClock = result.runs.filter((r) => r.failed <= r.inFlightAtCut).length;
  return `${asLived} of ${n} (${byClock} by the cut's instant)`;
}

export const AURORA_COLUMNS = [
  'client',
  'outage',
  'failovers',
  'first write after failover start (median / max)',
  'after the promotion (min to max)',
  'target (runs met)',
  'failed / in flight at the cut, per failover',
  'failovers with failed <= in flight',
  'failed that started after the cut was seen (before)',
  'failures not outcome-unknown',
  'lost / duplicated writes',
  'writes on a reader',
  'connections left on the old writer',
  'verdict',
] as const;

export function auroraCells(result: AuroraClientResult): string[] {
  const s = resumeSummary(result);
  const ours = result.targetMs !== undefined;
  return [
    CLIENT_LABELS[result.name],
    result.outage,
    String(result.runs.length),
    `${seconds(s.median)} / ${seconds(s.max)}`,
    range(afterPromotion(result), signedSeconds),
    targetCell(result),
    result.runs.length === 0
      ? 'n/a'
      : `${range(
          result.runs.map((r) => r.failed),
          String,
        )} / ${range(
          result.runs.map((r) => inFlight(r)),
          String,
        )}`,
    withinInFlight(result),
    `${sum(result.runs.map((r) => r.failedAfterCutSeen))} (${sum(
      result.runs.map((r) => r.failedStartedAfterCut - r.failedAfterCutSeen),
    )})`,
    ours ? `${notOutcomeUnknown(result)} of ${sum(result.runs.map((r) => r.failed))}` : 'n/a',
    `${result.verification.lost} / ${result.verification.duplicated} of ${result.verification.acknowledged}`,
    `${result.writesOnReader} of ${result.attributedWrites} attributed`,
    String(sum(result.runs.map(leftCount))),
    result.problems.length === 0 ? 'PASS' : 'FAIL',
  ];
}

export function auroraMarkdownTable(results: readonly AuroraClientResult[]): string {
  return formatMarkdownTable(AURORA_COLUMNS, results.map(auroraCells), ['client', 'verdict']);
}

export function auroraTextTable(results: readonly AuroraClientResult[]): string {
  return formatTextTable(AURORA_COLUMNS, results.map(auroraCells));
}

/** Per client: counts, then one timeline line per failover (offsets from its start). */
export function auroraDetailLines(results: readonly AuroraClientResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const v = r.verification;
    const counters = Object.entries(r.counters)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(
      `${r.name} (outage ${r.outage}): ${r.requests} requests, ${r.ok} ok; acknowledged inserts ${v.acknowledged}, lost ${v.lost}, ` +
        `duplicated ${v.duplicated}, failed-but-present ${v.ambiguousPresent}; ${counters}` +
        (r.leakScan
          ? `; leak scan ${r.leakScan.scanned} errors/events/messages, ${r.leakScan.findings} finding(s)`
          : ''),
    );
    r.runs.forEach((run, n) => {
      const at = (t: number | null | undefined) =>
        t === null || t === undefined ? 'never' : `+${((t - run.startedAt) / 1000).toFixed(2)} s`;
      lines.push(
        `  #${n + 1} ${run.from} -> ${run.to}: promoted ${at(run.promotedAt)}, DNS moved ${at(run.dnsUpdatedAt)}` +
          (run.writerFoundAt === undefined ? '' : `, pool found the writer ${at(run.writerFoundAt)}`) +
          `, first write ${at(run.firstWriteAt)}; in flight at the cut ${run.inFlightAtCut}` +
          (run.clientSawCutAt === undefined
            ? ''
            : ` (+${run.sentBeforeCutSeen} started before the process had seen every cut connection close, at +${(
                run.clientSawCutAt - run.startedAt
              ).toFixed(1)} ms)`) +
          `, failed ${run.failed} (${topCounts(run.failureCodes, 3)}), ${run.failedStartedAfterCut} of them started after the cut` +
          (run.failedAfterCut.length === 0
            ? ''
            : ` (at ${run.failedAfterCut
                .slice(0, 6)
                .map((f) => `+${f.atMs.toFixed(1)} ms`)
                .join(
                  ', ',
                )}${run.failedAfterCut.length > 6 ? ', ...' : ''}; ${run.failedAfterCutSeen} once the cut was seen)`) +
          (r.targetMs === undefined ? '' : `, outcomes ${topCounts(run.failureOutcomes, 4) || 'none'}`) +
          `; on the old writer when DNS moved ${sessionCounts(run.onOldWriterAtMove)}, a second later ${sessionCounts(run.leftOnOldWriter)}` +
          (run.servedByOldWriterAfterLag > 0
            ? `; ${run.servedByOldWriterAfterLag} request(s) served by the old writer after the lag`
            : ''),
      );
    });
    for (const problem of r.problems) lines.push(`  PROBLEM: ${problem}`);
  }
  return lines.join('\n');
}

/** docs/performance.md's comparison: each client against the AWS wrapper, same run. */
export function auroraComparisonTable(results: readonly AuroraClientResult[]): string {
  const rows = results.map((r) => {
    const wrapper = results.find((w) => w.name === 'aws-wrapper' && w.outage === r.outage);
    const wrapperMedian = wrapper ? resumeSummary(wrapper).median : undefined;
    const s = resumeSummary(r);
    const failed = r.runs.map((run) => run.failed);
    const ratio =
      s.median !== undefined && wrapperMedian !== undefined
        ? `${(s.median / wrapperMedian).toFixed(2)}x`
        : 'n/a';
    return `| ${CLIENT_LABELS[r.name]} | ${r.outage} | ${r.runs.length} | ${seconds(s.median)} | ${seconds(s.max)} | ${ratio} | ${
      failed.length === 0 ? 0 : quantile(failed, 0.5)
    } | ${targetCell(r)} |`;
  });
  return [
    '| client | outage | failovers | writes resume (median) | max | vs AWS wrapper (median, same outage) | failed requests per failover (median) | target: promotion + 0.5 s (runs met) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}
