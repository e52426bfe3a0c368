/** Runs an example the way `npm run example:<name>` does, in its own process, and checks its output. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { RUN_ID } from '../helpers/emulator-harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Token-shaped text that must never appear in an example's output. */
const TOKEN_SHAPED = /X-Amz-(Signature|Security-Token|Credential)|[0-9a-f]{64}/;

export interface ExampleRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node --import tsx examples/<name>/main.ts` with a database of its own. */
export function runExample(name: string, database: string): Promise<ExampleRun> {
  return runScript(`examples/${name}/main.ts`, database);
}

/** `node --import tsx <script>` (a path from the repository root) with a database of its own. */
export function runScript(
  script: string,
  database: string,
  env: Record<string, string> = {},
): Promise<ExampleRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script],
      {
        cwd: ROOT,
        env: { ...process.env, EXAMPLE_DATABASE: `${database}_${RUN_ID}`, ...env },
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

/** The lines every ORM example prints: its rows, then one signing before and one after 16 minutes. */
export function expectOrmExampleOutput(run: ExampleRun, name: string, connections: [number, number]): void {
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout.trim().split('\n')).toEqual([
    `${name}: selected first, second`,
    `tokens signed: 1, connections opened: ${connections[0]}`,
    `16 minutes later: tokens signed: 2, connections opened: ${connections[1]}`,
  ]);
  expect(run.stdout).not.toMatch(TOKEN_SHAPED);
}

export function expectNoTokenInOutput(run: ExampleRun): void {
  expect(run.stdout).not.toMatch(TOKEN_SHAPED);
  expect(run.stderr).not.toMatch(TOKEN_SHAPED);
}
