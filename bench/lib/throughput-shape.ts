/** The throughput workload, shared by the child that runs it and the section that reports it. */
export const POOL_SIZE = 16;
export const CONCURRENCIES = [1, 16, 64] as const;
/** Queries per sample: enough that the last callers' tail is a small part of it. */
export const batchSize = (concurrency: number) => Math.max(64, concurrency * 8);

export interface ThroughputResult {
  concurrency: number;
  /**
   * Median time of one sample (`batchSize(concurrency)` queries), in ms: the typical sample, not
   * the few that another process's burst of work landed on.
   */
  medianMs: number;
  samples: number;
  rme: number;
  /** Client CPU (user + system) per query, in µs. */
  cpuMicrosPerQuery: number;
}
