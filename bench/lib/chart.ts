import { formatRatio, type ResultRow, type RunInfo, runInfoLine } from './report.js';

const WIDTH = 1220;
const LABEL_WIDTH = 640;
const PLOT_LEFT = LABEL_WIDTH + 10;
const PLOT_WIDTH = 360;
const ROW_HEIGHT = 24;
const TOP = 70;
/** Ratios are drawn on a log scale from 1/4 to 4: a doubling and a halving look alike. */
const DOMAIN = [0.25, 4] as const;
const COLOURS = { met: '#2e7d32', missed: '#c62828', none: '#78909c' };

const escapeXml = (s: string) => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function x(ratio: number): number {
  const clamped = Math.min(Math.max(ratio, DOMAIN[0]), DOMAIN[1]);
  const span = Math.log2(DOMAIN[1]) - Math.log2(DOMAIN[0]);
  return PLOT_LEFT + ((Math.log2(clamped) - Math.log2(DOMAIN[0])) / span) * PLOT_WIDTH;
}

/**
 * A hand-drawn SVG of every ratio in the run: one bar per comparison from 1.0 (parity with the
 * baseline) to the median ratio, a whisker for the min–max over rounds, a dashed tick at the target.
 */
export function ratioChart(rows: readonly ResultRow[], info: RunInfo): string {
  const parts: string[] = [];
  let y = TOP;
  let section = '';
  for (const row of rows) {
    if (row.section !== section) {
      section = row.section;
      y += 8;
      parts.push(
        `<text x="10" y="${y + 16}" font-weight="bold">${escapeXml(section)}</text>`,
        `<line x1="10" x2="${WIDTH - 10}" y1="${y + 21}" y2="${y + 21}" stroke="#ddd"/>`,
      );
      y += ROW_HEIGHT;
    }
    const mid = y + ROW_HEIGHT / 2;
    const colour = row.target ? (row.target.met ? COLOURS.met : COLOURS.missed) : COLOURS.none;
    const from = x(1);
    const to = x(row.ratio.median);
    const better = row.better === 'higher' ? 'higher is better' : 'lower is better';
    const label = `${row.metric}: ${row.subject} ÷ ${row.baseline}`;
    parts.push(
      `<text x="20" y="${mid + 4}" font-size="11"${row.reference ? ' fill="#666"' : ''}>${escapeXml(label)}</text>`,
      `<rect x="${Math.min(from, to).toFixed(1)}" y="${mid - 7}" width="${Math.max(Math.abs(to - from), 1.5).toFixed(1)}" height="14" fill="${colour}" fill-opacity="${row.reference ? 0.45 : 0.85}"><title>${escapeXml(`${label} (${better}): ${formatRatio(row.ratio)}`)}</title></rect>`,
    );
    if (row.ratio.min !== row.ratio.max) {
      const [a, b] = [x(row.ratio.min), x(row.ratio.max)];
      parts.push(
        `<path d="M${a.toFixed(1)} ${mid}H${b.toFixed(1)}M${a.toFixed(1)} ${mid - 4}v8M${b.toFixed(1)} ${mid - 4}v8" stroke="#222" stroke-width="1"/>`,
      );
    }
    if (row.target) {
      const t = x(row.target.value);
      parts.push(
        `<line x1="${t.toFixed(1)}" x2="${t.toFixed(1)}" y1="${mid - 10}" y2="${mid + 10}" stroke="#000" stroke-dasharray="3 2"/>`,
      );
    }
    const offScale = row.ratio.median < DOMAIN[0] ? '◀ ' : row.ratio.median > DOMAIN[1] ? '▶ ' : '';
    parts.push(
      `<text x="${PLOT_LEFT + PLOT_WIDTH + 12}" y="${mid + 4}" font-size="12">${offScale}${escapeXml(formatRatio(row.ratio))}${row.better === 'higher' ? ' ↑' : ' ↓'}</text>`,
    );
    y += ROW_HEIGHT;
  }
  const height = y + 36;
  const axis: string[] = [];
  for (const tick of [0.25, 0.5, 1, 2, 4]) {
    const tx = x(tick);
    axis.push(
      `<line x1="${tx}" x2="${tx}" y1="${TOP - 6}" y2="${height - 36}" stroke="${tick === 1 ? '#000' : '#ccc'}"/>`,
      `<text x="${tx}" y="${TOP - 10}" font-size="11" text-anchor="middle">${tick}x</text>`,
    );
  }
  const legend =
    `<rect x="10" y="33" width="10" height="10" fill="${COLOURS.met}"/><text x="24" y="42" font-size="11">target met</text>` +
    `<rect x="100" y="33" width="10" height="10" fill="${COLOURS.missed}"/><text x="114" y="42" font-size="11">target missed</text>` +
    `<rect x="205" y="33" width="10" height="10" fill="${COLOURS.none}"/><text x="219" y="42" font-size="11">no target (context)</text>` +
    `<text x="340" y="42" font-size="11">dashed tick: target · whisker: min–max over rounds · ↑ higher is better · ↓ lower is better</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">rds-iam-pool against each baseline: median ratio per measurement, from npm run bench</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">rds-iam-pool vs baselines: median ratio per measurement (log scale, 1x = same as baseline)</text>`,
    `<text x="10" y="${height - 12}" font-size="10" fill="#666">${escapeXml(runInfoLine(info))}</text>`,
    legend,
    ...axis,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
