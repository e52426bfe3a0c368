import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { type ChildConfig, OFFLINE_GUARD_EXIT_CODE } from '../children/config.js';
import { BENCH_KEY } from './env.js';

/**
 * The whole environment of a child: nothing inherited from the shell, credentials where Lambda
 * puts them, and every other credential source (profiles, instance metadata) switched off.
 */
function childEnvironment(config: ChildConfig): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    BENCH_CHILD_CONFIG: JSON.stringify(config),
    AWS_ACCESS_KEY_ID: BENCH_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: BENCH_KEY.secretAccessKey,
    AWS_SESSION_TOKEN: BENCH_KEY.sessionToken,
    AWS_REGION: config.emulator.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  };
}

export interface ChildRunner {
  config: ChildConfig;
  /** Path of the compiled offline guard, preloaded into every child. */
  guard: string;
}

/** Runs one child script in a fresh `node` and returns the JSON line it printed. */
export function runChild<T>(runner: ChildRunner, script: string, args: string[], nodeArgs: string[] = []): T {
  const result = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(runner.guard).href, ...nodeArgs, script, ...args],
    { env: childEnvironment(runner.config), encoding: 'utf8', timeout: 60_000 },
  );
  if (result.status === OFFLINE_GUARD_EXIT_CODE) {
    throw new Error(`${args.join(' ')} tried to reach the network: ${result.stderr.trim()}`);
  }
  if (result.status !== 0) {
    throw new Error(
      `${script} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr.trim()}`,
    );
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}

/**
 * Runs `measure` for every variant, `rounds` times, rotating the order each round so no variant
 * always runs first (or last) while the machine warms up or other work comes and goes.
 */
export function interleaved<V extends string, T>(
  variants: readonly V[],
  rounds: number,
  measure: (variant: V) => T,
): Record<V, T[]> {
  const results = Object.fromEntries(variants.map((v) => [v, [] as T[]])) as Record<V, T[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length] as V;
      results[variant].push(measure(variant));
    }
  }
  return results;
}

/** The async version of `interleaved`, for in-process measurements. */
export async function interleavedAsync<V extends string, T>(
  variants: readonly V[],
  rounds: number,
  measure: (variant: V, round: number) => Promise<T>,
): Promise<Record<V, T[]>> {
  const results = Object.fromEntries(variants.map((v) => [v, [] as T[]])) as Record<V, T[]>;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(round + i) % variants.length] as V;
      results[variant].push(await measure(variant, round));
    }
  }
  return results;
}
