/** What the hot-path benchmark's parent and its children agree on (bench/hot-path.ts). */

/** The RDS instance name the canned server's certificate is for: no cluster, so no topology. */
export const HOT_PATH_HOST = 'hot-path.abc123xyz789.us-east-1.rds.amazonaws.com';
export const HOT_PATH_POOL_SIZE = 16;
export const HOT_PATH_CONCURRENCIES = [1, 16, 64] as const;
/**
 * Borrows (and releases) in one block of the pool-layer measurement: 40-200 ms of CPU, well above the
 * granularity of the kernel's CPU-time accounting (a few ms), which made shorter blocks scatter.
 */
export const BORROWS_PER_BLOCK = 200_000;
/** Commands in one block of the statement-watcher measurement (about 100 ms, for the same reason). */
export const COMMANDS_PER_BLOCK = 5_000_000;

/** Passed to each client in the HOT_PATH_CONFIG environment variable. */
export interface HotPathConfig {
  /** Absolute path of the built package entry (ESM). */
  packageEntry: string;
  /** The canned server on 127.0.0.1. */
  port: number;
  caPem: string;
}

/** e2e: one process's figures, per concurrency. */
export interface HotPathE2eResult {
  concurrency: number;
  cpuMicrosPerQuery: number;
  queriesPerSecond: number;
}

/** The pools of the pool-layer measurement: ours, a mysql2 pool, and another for the A/A control. */
export const LAYER_VARIANTS = ['ours', 'static', 'static-again'] as const;
export type LayerVariant = (typeof LAYER_VARIANTS)[number];

/** layer: one process's blocks, µs per borrow (per concurrency) and per command (the watcher). */
export interface HotPathLayerResult {
  pool: Array<{ concurrency: number; microsPerBorrow: Record<LayerVariant, number[]> }>;
  watcher: Record<'watched' | 'unwatched', number[]>;
}

export interface HotPathAllocResult {
  concurrency: number;
  /** null when a garbage collection ran during the window (the figure would be wrong). */
  heapBytesPerQuery: number | null;
}
