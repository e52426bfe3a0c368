import { redactSecrets } from '../../index.js';

/** Exit codes of every command; documented in docs/cli.md. */
export const ExitCode = {
  /** The command did what it was asked; every doctor check passed (warnings allowed). */
  ok: 0,
  /** A check failed, or the command could not do its job (no credentials, backend unreachable...). */
  failed: 1,
  /** The command line was wrong: unknown command or flag, missing or malformed value. */
  usage: 2,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake on the command line: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

/** The command ran but could not do its job: printed with the fix, exit code 1. */
export class CommandFailure extends Error {
  override name = 'CommandFailure';
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options);
    this.hint = hint === undefined ? undefined : redactSecrets(hint);
  }
}

/** A message safe to print: never a token, signature or access key id, whatever the error carried. */
export function safeMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return redactSecrets(text);
}
