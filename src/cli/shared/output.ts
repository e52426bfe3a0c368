/** Where a command writes, and the environment it reads; injectable so `runCli` can be embedded. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

const ANSI = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;

export type Style = keyof typeof ANSI;

/** https://no-color.org: any non-empty NO_COLOR turns colour off. */
function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** Text and JSON output. Colour only on a terminal (and not with NO_COLOR), never in JSON. */
export class Output {
  readonly io: CliIo;
  readonly #colourOut: boolean;
  readonly #colourErr: boolean;

  constructor(io: CliIo) {
    this.io = io;
    this.#colourOut = colourWanted(io.stdout, io.env);
    this.#colourErr = colourWanted(io.stderr, io.env);
  }

  /** `text` in `style` when stdout is a colour terminal, as is otherwise. */
  paint(style: Style, text: string): string {
    return this.#colourOut ? wrap(style, text) : text;
  }

  paintErr(style: Style, text: string): string {
    return this.#colourErr ? wrap(style, text) : text;
  }

  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  errorLine(text = ''): void {
    this.io.stderr.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** One compact JSON object per line (for streams of events). */
  jsonLine(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }
}

function wrap(style: Style, text: string): string {
  const [open, close] = ANSI[style];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}
