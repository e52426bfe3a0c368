import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli as runCliInProcess } from '../../src/cli/main.js';

/** The repository root: the CLI runs from source through tsx, so `npm test` works before a build. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI_ARGS = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * An environment with no AWS settings from the machine running the tests: no keys, no profile, no
 * ~/.aws files, and IMDS disabled so the SDK chain never reaches for a network endpoint.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('AWS_') && key !== 'NO_COLOR' && key !== 'FORCE_COLOR') env[key] = value;
  }
  Object.assign(env, {
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent/rds-iam-pool-test/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/rds-iam-pool-test/credentials',
  });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Starts `rds-iam-pool <args>` from source; `stdin: 'pipe'` gives the test the child's stdin. */
export function spawnCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = cliEnv(),
  options: { stdin?: 'ignore' | 'pipe' } = {},
): ChildProcess {
  return spawn(process.execPath, [...CLI_ARGS, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
}

/**
 * A command started with `--json` that prints one JSON object a line (the emulator): `nextEvent()`
 * reads the next one, and fails with the command's stderr if it ended first.
 */
export function jsonEvents(child: ChildProcess): {
  nextEvent(): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
} {
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const nextEvent = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the command ended early; stderr: ${stderr}`);
    return JSON.parse(value as string) as Record<string, unknown>;
  };
  return { nextEvent, exited };
}

/**
 * At most this many CLI processes at once: the machine has two cores, and concurrent tests that each
 * start a Node process would otherwise slow every one of them towards the test timeout.
 */
const MAX_PROCESSES = 2;
let running = 0;
const waiting: Array<() => void> = [];

async function withProcessSlot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_PROCESSES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Runs `rds-iam-pool <args>` to completion (killed after `timeoutMs`) and collects its output. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = cliEnv(),
  timeoutMs = 20_000,
): Promise<CliResult> {
  return withProcessSlot(() => runToCompletion(args, env, timeoutMs));
}

function runToCompletion(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Runs the CLI inside the test process with captured output: for checks of argument validation and
 * help text, which need no credentials and no network, so they need not pay for a Node start each.
 */
export async function runInProcess(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; isTTY?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const isTTY = options.isTTY ?? false;
  const stdout = Object.assign(new PassThrough(), { isTTY });
  const stderr = Object.assign(new PassThrough(), { isTTY });
  const text = { stdout: '', stderr: '' };
  stdout.on('data', (d: Buffer) => {
    text.stdout += d.toString();
  });
  stderr.on('data', (d: Buffer) => {
    text.stderr += d.toString();
  });
  const code = await runCliInProcess(args, { stdout, stderr, env: options.env ?? cliEnv() });
  await new Promise((resolve) => setImmediate(resolve));
  return { code, ...text };
}
