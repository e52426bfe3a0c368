#!/usr/bin/env node
/**
 * The `rds-iam-pool` command: token, doctor, setup-sql, policy, emulator. Also importable as
 * `rds-iam-pool/cli` (`runCli`), which runs nothing on import. See docs/cli.md.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { COMMANDS } from './commands/index.js';
import { formatHelp, parseFlags } from './shared/args.js';
import { CommandFailure, ExitCode, safeMessage, UsageError } from './shared/failures.js';
import { type CliIo, Output } from './shared/output.js';
import { packageVersion } from './shared/version.js';

export type { Cause, DoctorReport, StepId, StepResult, StepStatus } from './doctor/report.js';
export { ExitCode } from './shared/failures.js';
export type { CliIo } from './shared/output.js';

const BIN_NAME = 'rds-iam-pool';

function globalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 2;
  return [
    `${BIN_NAME}: set up and diagnose IAM database authentication for RDS / Aurora MySQL and MariaDB`,
    '',
    `Usage: ${BIN_NAME} <command> [flags]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    `Run ${BIN_NAME} <command> --help for a command's flags. Every command takes --json.`,
    `${BIN_NAME} --version (-v) prints the version.`,
    'Exit codes: 0 ok, 1 a check failed (or the command could not do its job), 2 usage error.',
    '',
  ].join('\n');
}

/**
 * Runs one command line (without the `node` and script arguments) and resolves to the exit code.
 * Never calls `process.exit`, so it can be embedded and tested in-process.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const out = new Output(io);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(globalHelp());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  if (name === '--version' || name === '-v') {
    if (rest.includes('--json')) out.json({ name: BIN_NAME, version: packageVersion() });
    else io.stdout.write(`${packageVersion()}\n`);
    return ExitCode.ok;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  const json = rest.includes('--json');
  if (command === undefined) {
    return reportError(
      out,
      json,
      new UsageError(
        `unknown command "${name}"`,
        `Commands: ${COMMANDS.map((c) => c.spec.name).join(', ')}.`,
      ),
    );
  }
  try {
    const flags = parseFlags(command.spec, rest);
    if (flags.boolean('help')) {
      io.stdout.write(formatHelp(command.spec, BIN_NAME));
      return ExitCode.ok;
    }
    return await command.run({ flags, out, io, json: flags.boolean('json'), binName: BIN_NAME });
  } catch (err) {
    return reportError(out, json, err, command.spec.name);
  }
}

function reportError(out: Output, json: boolean, err: unknown, commandName?: string): number {
  const usage = err instanceof UsageError;
  const exitCode = usage ? ExitCode.usage : ExitCode.failed;
  const message = safeMessage(err);
  const hint = err instanceof UsageError || err instanceof CommandFailure ? err.hint : undefined;
  if (json) {
    out.json({ ok: false, error: { kind: usage ? 'usage' : 'failed', message, ...(hint ? { hint } : {}) } });
  }
  out.errorLine(
    `${BIN_NAME}${commandName ? ` ${commandName}` : ''}: ${out.paintErr('red', 'error:')} ${message}`,
  );
  if (hint) out.errorLine(hint);
  if (usage) out.errorLine(`Run ${BIN_NAME} ${commandName ?? ''}${commandName ? ' ' : ''}--help for usage.`);
  return exitCode;
}

const PACKAGE_NAME = 'rds-iam-pool';
/** Where this file sits in the package: the built bin (ESM and CommonJS) and the source run by tsx. */
const ENTRY_FILES = ['dist/cli/main.js', 'dist/cli/main.cjs', 'src/cli/main.ts'];

/**
 * True when this file is the program being run (directly, or through the npm bin symlink), false when
 * it is imported as `rds-iam-pool/cli`. Decided from the script path and the package it belongs to,
 * without `import.meta` (which a CommonJS build cannot contain) or `require.main` (which ESM lacks).
 */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  let file: string;
  try {
    file = realpathSync(script);
  } catch {
    return false;
  }
  // The nearest package.json above the script must be ours, with the script at one of our entry paths.
  for (let dir = dirname(file), depth = 0; depth < 4; dir = dirname(dir), depth++) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    try {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
      return name === PACKAGE_NAME && ENTRY_FILES.includes(relative(dir, file).split(sep).join('/'));
    } catch {
      return false;
    }
  }
  return false;
}

if (invokedDirectly()) {
  // `rds-iam-pool setup-sql ... | head`: a reader that stops early is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
  }
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Normally nothing is left and Node exits now. A credential provider still retrying after the
      // doctor's timeout (IMDS, SSO) would hold the process open; this bounds that, without holding it itself.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`${BIN_NAME}: ${safeMessage(err)}\n`);
      process.exitCode = ExitCode.failed;
    },
  );
}
