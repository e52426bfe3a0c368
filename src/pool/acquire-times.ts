/** Acquire-time percentiles over the most recent borrows, in ms. */
export interface AcquireTimePercentiles {
  /** Borrows measured since the pool was created. */
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** How many recent borrows the percentiles describe: recent enough to show today's pool. */
export const ACQUIRE_SAMPLES = 1024;

/**
 * A fixed ring of the latest acquire times; percentiles are computed when asked for, so recording
 * costs one array write and memory stays flat however long the pool runs.
 */
export class AcquireTimes {
  readonly #samples = new Float64Array(ACQUIRE_SAMPLES);
  #count = 0;

  record(ms: number): void {
    this.#samples[this.#count % ACQUIRE_SAMPLES] = ms;
    this.#count++;
  }

  percentiles(): AcquireTimePercentiles {
    const n = Math.min(this.#count, ACQUIRE_SAMPLES);
    if (n === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
    const sorted = this.#samples.slice(0, n).sort();
    const at = (q: number) => round(sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0);
    return { count: this.#count, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(sorted[n - 1] ?? 0) };
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
