import type { ChildScript } from './build.js';
import type { BackendLogin } from './database.js';
import type { EmulatorProcess } from './emulator-process.js';
import type { PackageEntry } from './pools.js';
import type { ChildRunner } from './spawn.js';

/** What every section gets from bench/run.ts. */
export interface BenchContext {
  /** The built package entry, loaded in this process. */
  entry: PackageEntry;
  emulator: EmulatorProcess;
  backend: BackendLogin;
  /** A token the emulator accepts for the whole run: the static-password baselines use it. */
  staticToken: string;
  runner: ChildRunner;
  children: Record<ChildScript, string>;
  /** Few, short rounds: for trying the harness, not for publishing figures. */
  quick: boolean;
  log(text: string): void;
}
