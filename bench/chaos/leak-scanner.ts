/**
 * Finds secrets in text: the values a test run actually used (secret access keys, session tokens,
 * token signatures, learned as they are signed) and anything shaped like part of an IAM auth token.
 * Pure functions over strings, so the scan itself can be tested with planted leaks.
 */

export interface LeakFinding {
  /** Where the text came from, e.g. `console.error` or `event connectFailed`. */
  source: string;
  /** What was found, never the secret itself: `token parameter X-Amz-Signature=`, `secret access key`... */
  kind: string;
  /** The text around the find, with the secret replaced by `[SECRET]`. */
  excerpt: string;
}

/** Shortest piece of a known secret that counts as a leak of it. */
const SECRET_WINDOW = 16;

/** Token parameters whose presence means (part of) a presigned token got out. */
const TOKEN_PARAMETERS = /X-Amz-(Signature|Security-Token|Credential)=[^&\s'"]*/gi;
/** A bare SigV4 signature: exactly 64 hex digits. */
const SIGNATURE_SHAPED = /(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/gi;
/** A credential field printed with its value (as util.inspect or JSON would print a credentials object). */
const CREDENTIAL_FIELD =
  /\b(?:secretAccessKey|SecretAccessKey|sessionToken|SessionToken|aws_secret_access_key|aws_session_token)\b['"]?\s*[:=]\s*['"]?(?!\[REDACTED\])[^\s'",}]{6,}/g;

/** The secrets one test run has handed out, each under a label that is safe to print. */
export class SecretRegistry {
  /** Secrets too short for the window index, searched for whole. */
  readonly #short = new Map<string, string>();
  /** Every 16-character piece of every longer secret -> where it comes from. */
  readonly #windows = new Map<string, Array<{ label: string; secret: string; offset: number }>>();
  readonly #known = new Set<string>();

  /** Registers a secret (and every 16-character piece of it, so fragments are caught too). */
  add(label: string, value: string | undefined): void {
    if (typeof value !== 'string' || value.length < 8 || this.#known.has(value)) return;
    this.#known.add(value);
    if (value.length < SECRET_WINDOW) {
      this.#short.set(value, label);
      return;
    }
    for (let offset = 0; offset + SECRET_WINDOW <= value.length; offset++) {
      const piece = value.slice(offset, offset + SECRET_WINDOW);
      const owners = this.#windows.get(piece);
      if (owners) owners.push({ label, secret: value, offset });
      else this.#windows.set(piece, [{ label, secret: value, offset }]);
    }
  }

  get size(): number {
    return this.#known.size;
  }

  /**
   * Every registered secret found in `text`, whole or as a 16-character fragment, as
   * [label, start, end]. One pass over the text with a Map lookup per position: linear in the
   * text, whatever the number of secrets.
   */
  find(text: string): Array<[string, number, number]> {
    const hits: Array<[string, number, number]> = [];
    for (const [value, label] of this.#short) {
      for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + value.length)) {
        hits.push([label, at, at + value.length]);
      }
    }
    for (let i = 0; i + SECRET_WINDOW <= text.length; i++) {
      const owners = this.#windows.get(text.slice(i, i + SECRET_WINDOW));
      if (owners === undefined) continue;
      // Secrets can share a piece (a common prefix); prefer one that is there whole.
      const whole = owners.find((o) => i >= o.offset && text.startsWith(o.secret, i - o.offset));
      if (whole) {
        const start = i - whole.offset;
        hits.push([whole.label, start, start + whole.secret.length]);
        i = start + whole.secret.length - 1;
      } else {
        hits.push([`fragment of ${owners[0]?.label}`, i, i + SECRET_WINDOW]);
        i += SECRET_WINDOW - 1;
      }
    }
    return hits;
  }
}

/**
 * Bytes shown as hex, decoded: `<Buffer 58 2d ...>` from util.inspect and long unbroken hex runs
 * such as mysql2's `debug: true` packet dumps. A token held in a Buffer or dumped as hex is then
 * seen like any text.
 */
export function decodeHexDumps(text: string): string {
  const decoded: string[] = [];
  for (const match of text.matchAll(/<Buffer((?: [0-9a-f]{2})+)/g)) {
    decoded.push(Buffer.from((match[1] ?? '').replace(/ /g, ''), 'hex').toString('latin1'));
  }
  for (const match of text.matchAll(/[0-9a-f]{32,}/gi)) {
    const hex = match[0].length % 2 === 0 ? match[0] : match[0].slice(0, -1);
    decoded.push(Buffer.from(hex, 'hex').toString('latin1'));
  }
  return decoded.join('\n');
}

/** Scans one piece of text; `source` names where it came from. */
export function scanText(source: string, text: string, secrets: SecretRegistry): LeakFinding[] {
  const findings: LeakFinding[] = [];
  const haystacks = [text];
  const bytes = decodeHexDumps(text);
  if (bytes) haystacks.push(bytes);
  for (const [i, haystack] of haystacks.entries()) {
    const where = i === 0 ? source : `${source} (bytes shown as hex)`;
    for (const [label, start, end] of secrets.find(haystack)) {
      findings.push({ source: where, kind: label, excerpt: excerpt(haystack, start, end, secrets) });
    }
    for (const [pattern, kind] of [
      [TOKEN_PARAMETERS, 'token parameter'],
      [SIGNATURE_SHAPED, 'signature-shaped hex (64 digits)'],
      [CREDENTIAL_FIELD, 'credential field with a value'],
    ] as const) {
      for (const match of haystack.matchAll(pattern)) {
        const start = match.index ?? 0;
        const name = kind === 'token parameter' ? `${kind} X-Amz-${match[1]}=` : kind;
        findings.push({
          source: where,
          kind: name,
          excerpt: excerpt(haystack, start, start + match[0].length, secrets),
        });
      }
    }
  }
  return findings;
}

/**
 * Context around a find with the find blanked out, safe to print in a test failure: anything else
 * in the context that could be (part of) a secret is blanked too.
 */
function excerpt(text: string, start: number, end: number, secrets: SecretRegistry): string {
  let context = `${text.slice(Math.max(0, start - 40), start)}\u0000${text.slice(end, end + 40)}`;
  for (const [, from, to] of secrets.find(context).sort((a, b) => b[1] - a[1])) {
    context = `${context.slice(0, from)}[SECRET]${context.slice(to)}`;
  }
  return context
    .replace(/X-Amz-([A-Za-z-]+)=[^&\s'"]*/g, 'X-Amz-$1=[SECRET]')
    .replace(/[A-Za-z0-9/+=%_-]{20,}/g, '[LONG]')
    .replace('\u0000', '[SECRET]')
    .replace(/\s+/g, ' ');
}

/** One line per finding, for an assertion message. Never contains a secret. */
export function formatFindings(findings: readonly LeakFinding[]): string {
  return findings.map((f) => `- ${f.source}: ${f.kind}: …${f.excerpt}…`).join('\n');
}
