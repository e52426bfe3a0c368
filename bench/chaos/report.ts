import type { Verification, WorkloadCounts } from './workload.js';

/** One line of the matrix. */
export interface ScenarioRow {
  name: string;
  counts: WorkloadCounts;
  verification: Verification;
  /** Logins the emulator accepted (server side). */
  logins: number;
  /** Tokens the pool signed. */
  signings: number;
  /** From the end of the fault to the first request started after it that succeeded; undefined = never. */
  recoveryMs: number | undefined;
  /** pool.end() did not settle within the hang bound. */
  endHung: boolean;
  /** Failure codes, most frequent first, and the emulator's refusal reasons. */
  failureCodes: Record<string, number>;
  refusals: Record<string, number>;
  /** Errors, events and diagnostics messages checked for secrets, and what was found. */
  leakScan: { scanned: number; findings: number };
  problems: string[];
}

export const COLUMNS = [
  'scenario',
  'requests',
  'ok',
  'failed (typed)',
  'untyped',
  'hangs',
  'lost',
  'duplicated',
  'ambiguous',
  'logins',
  'signings',
  'recovery',
  'verdict',
] as const;

export function cells(row: ScenarioRow): string[] {
  const failed = row.counts.requests - row.counts.ok - row.counts.hangs;
  const untyped = sum(row.counts.untypedFailures);
  return [
    row.name,
    String(row.counts.requests),
    String(row.counts.ok),
    String(failed - untyped),
    String(untyped),
    String(row.counts.hangs + (row.endHung ? 1 : 0)),
    String(row.verification.lost),
    String(row.verification.duplicated),
    String(row.verification.ambiguous),
    String(row.logins),
    String(row.signings),
    row.recoveryMs === undefined ? 'never' : `${(row.recoveryMs / 1000).toFixed(2)} s`,
    row.problems.length === 0 ? 'PASS' : 'FAIL',
  ];
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

export function topCounts(record: Record<string, number>, limit = 4): string {
  const entries = Object.entries(record).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return 'none';
  const shown = entries.slice(0, limit).map(([k, v]) => `${k} ×${v}`);
  return entries.length > limit ? `${shown.join(', ')}, …` : shown.join(', ');
}

export function textTable(rows: readonly ScenarioRow[]): string {
  return formatTextTable(COLUMNS, rows.map(cells));
}

export function markdownTable(rows: readonly ScenarioRow[]): string {
  return formatMarkdownTable(COLUMNS, rows.map(cells), ['scenario', 'verdict']);
}

/** Columns padded to their widest cell, the first left-aligned, the rest right-aligned. */
export function formatTextTable(columns: readonly string[], rows: readonly string[][]): string {
  const table = [[...columns], ...rows];
  const widths = columns.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  return table
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

/** A markdown table; the columns named in `textColumns` are left-aligned, the others right-aligned. */
export function formatMarkdownTable(
  columns: readonly string[],
  rows: readonly string[][],
  textColumns: readonly string[],
): string {
  const header = `| ${columns.join(' | ')} |`;
  const rule = `| ${columns.map((c) => (textColumns.includes(c) ? '---' : '---:')).join(' | ')} |`;
  return [header, rule, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Per scenario: what failed with which code, and why the emulator refused logins. */
export function detailLines(rows: readonly ScenarioRow[]): string {
  return rows
    .map((row) => {
      const lines = [
        `${row.name}: failures ${topCounts(row.failureCodes)}; server refused ${topCounts(row.refusals)}; ` +
          `committed ${row.verification.committed}, torn ${row.verification.torn}, unexpected ${row.verification.unexpected}; ` +
          `leak scan ${row.leakScan.scanned} errors/events/messages, ${row.leakScan.findings} finding(s)`,
      ];
      for (const problem of row.problems) lines.push(`  PROBLEM: ${problem}`);
      return lines.join('\n');
    })
    .join('\n');
}
