/**
 * Just enough of MySQL's lexical rules to recognise the handful of statements the cluster mode
 * answers itself. Anything it does not understand makes it give up (null), and the statement goes
 * to the backend untouched.
 */
export type TokenKind = 'word' | 'sysvar' | 'string' | 'number' | 'identifier' | 'punct';

export interface Token {
  kind: TokenKind;
  /** Lower-cased for words and system variables (scope dropped), unescaped for strings and identifiers. */
  value: string;
  /** Offsets into the statement, so a column can be named by its text as written (MySQL does that). */
  start: number;
  end: number;
}

const WORD = /[A-Za-z_$][A-Za-z0-9_$]*/y;
const NUMBER = /[0-9]+(?:\.[0-9]+)?/y;
const SYSVAR = /@@(?:(?:session|global|local)\.)?([A-Za-z_][A-Za-z0-9_]*)/iy;
const PUNCT = /<=|>=|<>|!=|[(),.=<>*;]/y;

function sticky(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

export function tokenize(sql: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#' || (c === '-' && sql.startsWith('-- ', i))) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? sql.length : eol + 1;
      continue;
    }
    if (sql.startsWith('/*', i)) {
      // /*! ... */ is executed by MySQL: not a comment we may skip.
      if (sql[i + 2] === '!' || sql[i + 2] === '+') return null;
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) return null;
      i = close + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      const end = closingQuote(sql, i, c);
      if (end < 0) return null;
      const raw = sql.slice(i + 1, end);
      const value =
        c === '`'
          ? raw.replace(/``/g, '`')
          : raw.replace(c === "'" ? /''/g : /""/g, c).replace(/\\(.)/g, '$1');
      tokens.push({ kind: c === '`' ? 'identifier' : 'string', value, start: i, end: end + 1 });
      i = end + 1;
      continue;
    }
    const match =
      sticky(SYSVAR, sql, i) ?? sticky(WORD, sql, i) ?? sticky(NUMBER, sql, i) ?? sticky(PUNCT, sql, i);
    if (!match) return null;
    const text = match[0];
    const kind: TokenKind = text.startsWith('@@')
      ? 'sysvar'
      : /^[0-9]/.test(text)
        ? 'number'
        : /^[A-Za-z_$]/.test(text)
          ? 'word'
          : 'punct';
    const value = kind === 'sysvar' ? match[1]!.toLowerCase() : kind === 'word' ? text.toLowerCase() : text;
    tokens.push({ kind, value, start: i, end: i + text.length });
    i += text.length;
  }
  return tokens;
}

/** Index of the quote that closes the one at `open`, honouring doubled quotes and (for strings) backslashes. */
function closingQuote(sql: string, open: number, quote: string): number {
  for (let j = open + 1; j < sql.length; j++) {
    const ch = sql[j];
    if (ch === '\\' && quote !== '`') {
      j++;
      continue;
    }
    if (ch === quote) {
      if (sql[j + 1] === quote) {
        j++;
        continue;
      }
      return j;
    }
  }
  return -1;
}

/** A cursor over tokens with the small helpers a recursive-descent parser needs. */
export class TokenCursor {
  private i = 0;
  constructor(readonly tokens: readonly Token[]) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  next(): Token | undefined {
    return this.tokens[this.i++];
  }

  /** The token most recently consumed. */
  previous(): Token | undefined {
    return this.tokens[this.i - 1];
  }

  /** Consumes the next token if it is the word (keyword) `word`. */
  acceptWord(word: string): boolean {
    const t = this.peek();
    if (t?.kind === 'word' && t.value === word) {
      this.i++;
      return true;
    }
    return false;
  }

  acceptPunct(punct: string): boolean {
    const t = this.peek();
    if (t?.kind === 'punct' && t.value === punct) {
      this.i++;
      return true;
    }
    return false;
  }

  /** True when only an optional trailing `;` is left. */
  atEnd(): boolean {
    this.acceptPunct(';');
    return this.i >= this.tokens.length;
  }
}
