import type { Summary } from './stats.js';

/** A target a ratio is held to (see ResultRow.target). */
export interface Target {
  text: string;
  value: number;
  met: boolean;
}

/** The target "ratio <= bound" (lower is better). */
export function atMost(bound: number, ratio: number): Target {
  return { text: `<= ${bound}x`, value: bound, met: ratio <= bound };
}

/** The target "ratio < bound" (lower is better, the bound itself not allowed). */
export function below(bound: number, ratio: number): Target {
  return { text: `< ${bound}x`, value: bound, met: ratio < bound };
}

/** The target "ratio >= bound" (higher is better). */
export function atLeast(bound: number, ratio: number): Target {
  return { text: `>= ${bound}x`, value: bound, met: ratio >= bound };
}

/** One line of the results: a subject measured against a baseline from the same run. */
export interface ResultRow {
  section: string;
  /** What was measured, e.g. "concurrency 16". */
  metric: string;
  subject: string;
  baseline: string;
  unit: string;
  subjectValue: Summary;
  baselineValue: Summary;
  /** subject / baseline, paired per round. */
  ratio: Summary;
  /** Which way is good for the subject. */
  better: 'higher' | 'lower';
  /** Rounds and samples behind the figures. */
  runs: string;
  /** The target for the ratio; `value` is the bound, in the direction of `better`. */
  target?: Target;
  /** Context only (not one of the comparisons). */
  reference?: boolean;
  /** Further figures kept in results.json (not printed). */
  detail?: Record<string, number | string>;
}

export interface RunInfo {
  date: string;
  commit: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** 1-minute load average before and after the run. */
  loadBefore: number;
  loadAfter: number;
  elapsedSeconds: number;
  quick: boolean;
}

const UNIT_DIGITS: Record<string, number> = { 'queries/s': 0, ms: 2, µs: 1, KiB: 1, MiB: 1, count: 0 };

export function formatValue(value: number, unit: string): string {
  const digits = UNIT_DIGITS[unit] ?? 2;
  const text = value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
  return `${text} ${unit}`;
}

export function formatRatio(ratio: Summary): string {
  const f = (x: number) => (x < 0.01 ? x.toPrecision(2) : x.toFixed(x < 10 ? 3 : 1));
  if (ratio.n <= 1 || ratio.min === ratio.max) return `${f(ratio.median)}x`;
  return `${f(ratio.median)}x (${f(ratio.min)}–${f(ratio.max)})`;
}

function cells(row: ResultRow): string[] {
  return [
    row.section,
    row.metric,
    `${row.subject}: ${formatValue(row.subjectValue.median, row.unit)}`,
    `${row.baseline}: ${formatValue(row.baselineValue.median, row.unit)}`,
    formatRatio(row.ratio),
    row.runs,
    row.target ? `${row.target.text} ${row.target.met ? 'met' : 'MISSED'}` : row.reference ? 'reference' : '',
  ];
}

const HEADER = [
  'section',
  'measurement',
  'subject (median)',
  'baseline (median)',
  'ratio (min–max)',
  'runs',
  'target',
];

/** A plain-text table for the terminal. */
export function textTable(rows: readonly ResultRow[]): string {
  const table = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(cells(r)))].join(
    '\n',
  );
}

/** The same table in Markdown, for docs/performance.md. */
export function markdownTable(rows: readonly ResultRow[]): string {
  const escapePipes = (cell: string) => cell.replaceAll('|', '\\|');
  const line = (r: string[]) => `| ${r.map(escapePipes).join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map((r) => line(cells(r)))].join('\n');
}

export function runInfoLine(info: RunInfo): string {
  return (
    `${info.date}, commit ${info.commit}, Node ${info.node}, ${info.cpus} × ${info.cpuModel}, ` +
    `load average (1 min) ${info.loadBefore.toFixed(2)} before / ${info.loadAfter.toFixed(2)} after, ` +
    `${info.elapsedSeconds.toFixed(0)} s${info.quick ? ', QUICK MODE (not for publication)' : ''}`
  );
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceBetweenMarkers(document: string, name: string, content: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(start);
  const to = document.indexOf(end);
  if (from < 0 || to < from) throw new Error(`markers ${start} / ${end} not found`);
  return `${document.slice(0, from + start.length)}\n${content}\n${document.slice(to)}`;
}
