import type { Command } from './command.js';
import { doctorCommand } from './doctor.js';
import { emulatorCommand } from './emulator.js';
import { policyCommand } from './policy.js';
import { setupSqlCommand } from './setup-sql.js';
import { tokenCommand } from './token.js';

/** Every subcommand, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  tokenCommand,
  doctorCommand,
  setupSqlCommand,
  policyCommand,
  emulatorCommand,
];
