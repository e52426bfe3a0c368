/** Quantile by linear interpolation between closest ranks (p in 0..1). */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = (sorted.length - 1) * p;
  const lo = Math.floor(index);
  const hi = Math.ceil(index);
  const low = sorted[lo] ?? Number.NaN;
  const high = sorted[hi] ?? Number.NaN;
  return low + (high - low) * (index - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

/** A distribution as reported: median, interquartile range, extremes and how many values. */
export interface Summary {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  n: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    median: median(values),
    p25: quantile(values, 0.25),
    p75: quantile(values, 0.75),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

/**
 * The ratio of two measurements taken side by side. Each round measures both sides back to back,
 * so load that drifts during the run (other engineers share the machine) hits both sides of a
 * round alike; the figure is the median of the per-round ratios, the spread their range.
 */
export function pairedRatio(ours: readonly number[], baseline: readonly number[]): Summary {
  if (ours.length !== baseline.length) throw new Error('paired ratio needs as many rounds on each side');
  return summarize(ours.map((value, i) => value / (baseline[i] ?? Number.NaN)));
}
