import type { BenchContext } from '../lib/context.js';
import { atMost, type ResultRow } from '../lib/report.js';
import { interleaved, runChild } from '../lib/spawn.js';
import { pairedRatio, summarize } from '../lib/stats.js';

const SECTION = 'Cold start (fresh node process)';
/** Issue #14's targets: import against mysql2 alone, first query against the hand-wired handler. */
const IMPORT_TARGET = 1.2;
const FIRST_QUERY_TARGET = 0.95;

const IMPORT_LABELS = {
  mysql2: 'mysql2/promise',
  ours: 'rds-iam-pool',
  'hand-wired': 'mysql2 + @aws-sdk/rds-signer',
  wrapper: 'aws-advanced-nodejs-wrapper/mysql',
} as const;

const FIRST_QUERY_LABELS = {
  'hand-wired': 'mysql2 + rds-signer by hand',
  ours: 'rds-iam-pool',
  wrapper: 'AWS Advanced NodeJS Wrapper (iam plugin)',
  'mysql2-static': 'mysql2, static token, no signing',
} as const;

/**
 * `import` of each entry, and the first query's answer, each in a fresh `node` process (built
 * output, no TypeScript loader), several runs interleaved.
 */
export function coldStart(ctx: BenchContext): ResultRow[] {
  const importRuns = ctx.quick ? 3 : 15;
  const variants = [
    ...(Object.keys(IMPORT_LABELS) as Array<keyof typeof IMPORT_LABELS>),
    'ours-steps',
  ] as const;
  const imports = interleaved(variants, importRuns, (v) =>
    runChild<Record<string, number> & { importMs: number }>(ctx.runner, ctx.children['import-time'], [v]),
  );
  // Where ours' import time goes, step by step (median of each step).
  const steps = Object.fromEntries(
    Object.keys(imports['ours-steps'][0] ?? {}).map((step) => [
      `stepMs: ${step}`,
      Number(summarize(imports['ours-steps'].map((r) => r[step] ?? 0)).median.toFixed(1)),
    ]),
  );
  const importMs = (v: keyof typeof IMPORT_LABELS) => imports[v].map((r) => r.importMs);
  ctx.log(`import: ours/mysql2 ${pairedRatio(importMs('ours'), importMs('mysql2')).median.toFixed(3)}`);
  const rows: ResultRow[] = (['ours', 'hand-wired', 'wrapper'] as const).map((v) => {
    const ratio = pairedRatio(importMs(v), importMs('mysql2'));
    return {
      section: SECTION,
      metric: 'import main entry',
      subject: IMPORT_LABELS[v],
      baseline: 'mysql2/promise alone',
      unit: 'ms',
      subjectValue: summarize(importMs(v)),
      baselineValue: summarize(importMs('mysql2')),
      ratio,
      better: 'lower',
      runs: `${importRuns} processes each`,
      ...(v === 'ours'
        ? {
            target: atMost(IMPORT_TARGET, ratio.median),
            detail: {
              firstCreatePoolMs: Number(
                summarize(imports.ours.map((r) => r.createPoolMs ?? 0)).median.toFixed(1),
              ),
              ...steps,
            },
          }
        : {}),
    };
  });

  const queryRuns = ctx.quick ? 2 : 10;
  const firstQueries = interleaved(
    Object.keys(FIRST_QUERY_LABELS) as Array<keyof typeof FIRST_QUERY_LABELS>,
    queryRuns,
    (v) => runChild<{ importMs: number; firstQueryMs: number }>(ctx.runner, ctx.children['first-query'], [v]),
  );
  const firstMs = (v: keyof typeof FIRST_QUERY_LABELS) => firstQueries[v].map((r) => r.firstQueryMs);
  ctx.log(
    `first query: ours/hand-wired ${pairedRatio(firstMs('ours'), firstMs('hand-wired')).median.toFixed(3)}`,
  );
  for (const v of ['ours', 'wrapper', 'mysql2-static'] as const) {
    const ratio = pairedRatio(firstMs(v), firstMs('hand-wired'));
    rows.push({
      section: SECTION,
      metric: 'import to first query answered',
      subject: FIRST_QUERY_LABELS[v],
      baseline: FIRST_QUERY_LABELS['hand-wired'],
      unit: 'ms',
      subjectValue: summarize(firstMs(v)),
      baselineValue: summarize(firstMs('hand-wired')),
      ratio,
      better: 'lower',
      runs: `${queryRuns} processes each`,
      ...(v === 'mysql2-static' ? { reference: true } : {}),
      ...(v === 'ours'
        ? {
            target: atMost(FIRST_QUERY_TARGET, ratio.median),
          }
        : {}),
      detail: {
        importMsMedian: summarize(firstQueries[v].map((r) => r.importMs)).median,
        baselineImportMsMedian: summarize(firstQueries['hand-wired'].map((r) => r.importMs)).median,
      },
    });
  }
  return rows;
}
