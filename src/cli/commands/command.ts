import type { CommandSpec, Flags } from '../shared/args.js';
import type { CliIo, Output } from '../shared/output.js';

export interface CommandContext {
  flags: Flags;
  out: Output;
  io: CliIo;
  /** --json was given: stdout carries JSON only. */
  json: boolean;
  /** The name the binary was invoked as, for help text and suggested commands. */
  binName: string;
}

/** A subcommand: its flags (for parsing and --help) and what it does. Resolves to the exit code. */
export interface Command {
  spec: CommandSpec;
  run(context: CommandContext): Promise<number>;
}
