import { parseArgs } from 'node:util';
import { UsageError } from './failures.js';

/** One command-line flag, described once for both parsing and `--help`. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given several times; the values are collected in order. */
  multiple?: boolean;
  /** Placeholder for the value in `--help`, e.g. `HOST`. */
  value?: string;
  description: string;
}

export interface CommandSpec {
  name: string;
  /** One line, shown in the command list. */
  summary: string;
  /** The synopsis after `Usage:`. */
  usage: string;
  /** Paragraphs shown under the synopsis. */
  description?: string[];
  /** The command's own flags. A common flag listed here (e.g. `json`) replaces its shared description. */
  flags: Record<string, FlagSpec>;
  examples?: string[];
  /** What exit code 1 means for this command; omitted when it never exits 1. */
  failureMeans?: string;
}

/** Flags every command accepts. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  json: { type: 'boolean', description: 'Print machine-readable JSON on stdout instead of text.' },
  help: { type: 'boolean', short: 'h', description: 'Show this help.' },
};

type FlagValue = string | boolean | string[] | undefined;

/** Parsed flags with typed accessors that turn bad values into usage errors (exit code 2). */
export class Flags {
  readonly #values: Record<string, FlagValue>;

  constructor(values: Record<string, FlagValue>) {
    this.#values = values;
  }

  boolean(name: string): boolean {
    return this.#values[name] === true;
  }

  /** The value, trimmed; an empty string counts as not given. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    if (typeof value !== 'string') return undefined;
    const trimmed = value.trim();
    return trimmed === '' ? undefined : trimmed;
  }

  requiredString(name: string, hint?: string): string {
    const value = this.string(name);
    if (value === undefined) throw new UsageError(`--${name} is required`, hint);
    return value;
  }

  strings(name: string): string[] {
    const value = this.#values[name];
    return Array.isArray(value) ? value.map((v) => v.trim()).filter((v) => v !== '') : [];
  }

  /** An integer flag within [min, max]; undefined when not given. */
  integer(name: string, min: number, max: number): number | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return Number(raw);
  }
}

/** Parses `argv` against the command's flags (plus --json and --help); strict: unknown flags are errors. */
export function parseFlags(spec: CommandSpec, argv: readonly string[]): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, flag] of allFlags(spec)) {
    options[name] = {
      type: flag.type,
      ...(flag.short ? { short: flag.short } : {}),
      ...(flag.multiple ? { multiple: true } : {}),
    };
  }
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    return new Flags(values as Record<string, FlagValue>);
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
}

function describeParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = e.message ?? String(err);
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = /'([^']+)'/.exec(message)?.[1];
      return flag ? `unknown flag ${flag}` : message;
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /'([^']+)'/.exec(message)?.[1];
      return arg ? `unexpected argument "${arg}" (flags take the form --name value)` : message;
    }
    default:
      // ERR_PARSE_ARGS_INVALID_OPTION_VALUE: "Option '--port <value>' argument missing" and the like.
      return message.replace(/^Option /, 'flag ');
  }
}

/** The command's own flags, then the common ones (with the command's description where it gives one). */
function allFlags(spec: CommandSpec): Array<[string, FlagSpec]> {
  const own = Object.entries(spec.flags).filter(([name]) => !(name in COMMON_FLAGS));
  const common = Object.entries(COMMON_FLAGS).map(([name, flag]): [string, FlagSpec] => [
    name,
    { ...flag, description: spec.flags[name]?.description ?? flag.description },
  ]);
  return [...own, ...common];
}

/** The `--help` text of one command. */
export function formatHelp(spec: CommandSpec, binName: string): string {
  const rows = allFlags(spec).map(([name, flag]) => {
    const left = `${flag.short ? `-${flag.short}, ` : ''}--${name}${flag.value ? ` ${flag.value}` : ''}`;
    const repeat = flag.multiple ? ' Repeatable.' : '';
    return [left, `${flag.description}${repeat}`] as const;
  });
  const width = Math.min(32, Math.max(...rows.map(([left]) => left.length)) + 2);
  const lines = [`${binName} ${spec.name}: ${spec.summary}`, '', `Usage: ${binName} ${spec.usage}`];
  for (const paragraph of spec.description ?? []) lines.push('', ...wrap(paragraph, HELP_WIDTH));
  lines.push('', 'Options:');
  for (const [left, right] of rows) {
    const [first = '', ...more] = wrap(right, HELP_WIDTH - width - 2);
    const pad = ' '.repeat(width + 2);
    if (left.length + 2 > width) lines.push(`  ${left}`, `${pad}${first}`);
    else lines.push(`  ${left.padEnd(width)}${first}`);
    for (const line of more) lines.push(`${pad}${line}`);
  }
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const example of spec.examples) lines.push(`  ${example}`);
  }
  lines.push(
    '',
    spec.failureMeans === undefined
      ? 'Exit codes: 0 ok, 2 usage error.'
      : `Exit codes: 0 ok, 1 ${spec.failureMeans}, 2 usage error.`,
  );
  return `${lines.join('\n')}\n`;
}

const HELP_WIDTH = 100;

/** Greedy word wrap; a word longer than the width gets a line of its own. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}
