/** What the hot-path benchmark's parent and its children agree on (bench/hot-path.ts). */

/** The RDS instance name the canned server's certificate is for: no cluster, so no topology. */
export const HOT_PATH_HOST = 'hot-path.abc123xyz789.us-east-1.rds.amazonaws.com';
export const HOT_PATH_POOL_SIZE = 16;
export const HOT_PATH_CONCURRENCIES = [1, 16, 64] as const;

/** Passed to each client in the HOT_PATH_CONFIG environment variable. */
export interface HotPathConfig {
  /** Absolute path of the built package entry (ESM). */
  packageEntry: string;
  /** The canned server on 127.0.0.1. */
  port: number;
  caPem: string;
}

/** One client process's figures, per concurrency. */
export interface HotPathCpuResult {
  concurrency: number;
  cpuMicrosPerQuery: number;
  queriesPerSecond: number;
}

export interface HotPathAllocResult {
  concurrency: number;
  /** null when a garbage collection ran during the window (the figure would be wrong). */
  heapBytesPerQuery: number | null;
}
