// Tokens of the Ruby inside ERB tags, for the subset erb-ruby-expr.ts parses:
// strings (with escapes and #{…}), backticks and %x(), numbers, names,
// @variables and operators; and the split of a tag into statements at `;` and
// line breaks that do not continue an expression. Pure.

/** Code outside the subset Berth evaluates itself. */
export class Unsupported extends Error {}

export type Tok =
  | { k: 'str'; parts: (string | Tok[])[] }
  | { k: 'cmd'; parts: (string | Tok[])[] }
  | { k: 'int'; value: number }
  | { k: 'id'; value: string }
  | { k: 'ivar'; value: string }
  | { k: 'op'; value: string }
  | { k: 'nl' };

const OPS = ['||', '&&', '==', '!=', '::', '(', ')', '[', ']', '{', '}', '.', ',', '?', ':', '!', '=', ';'];
const CLOSERS: Record<string, string> = { '(': ')', '{': '}', '[': ']', '<': '>' };
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', s: ' ', '0': '\0', e: '\x1b' };

export class Lexer {
  pos = 0;
  constructor(readonly src: string) {}

  /** A double-quoted body (also backticks and %x): escapes and #{…} interpolation, up to `close`. */
  interpolated(close: string, open?: string): (string | Tok[])[] {
    const parts: (string | Tok[])[] = [];
    let buf = '';
    let depth = 0;
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined) throw new Unsupported('unterminated string');
      this.pos++;
      if (ch === close && depth === 0) break;
      if (open !== undefined && ch === open) depth++;
      if (ch === close) depth--;
      if (ch === '\\') {
        const next = this.src[this.pos++] ?? '';
        buf += ESCAPES[next] ?? next;
      } else if (ch === '#' && this.src[this.pos] === '{') {
        this.pos++;
        if (buf) parts.push(buf);
        buf = '';
        parts.push(this.tokens('}'));
      } else {
        buf += ch;
      }
    }
    if (buf || parts.length === 0) parts.push(buf);
    return parts;
  }

  single(): string {
    let out = '';
    for (;;) {
      const ch = this.src[this.pos++];
      if (ch === undefined) throw new Unsupported('unterminated string');
      if (ch === "'") return out;
      if (ch === '\\' && (this.src[this.pos] === "'" || this.src[this.pos] === '\\')) out += this.src[this.pos++];
      else out += ch;
    }
  }

  /** Tokens up to `until` (consumed), or to the end. */
  tokens(until?: string): Tok[] {
    const out: Tok[] = [];
    let depth = 0;
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined) {
        if (until !== undefined) throw new Unsupported('unbalanced interpolation');
        return out;
      }
      if (ch === until && depth === 0) {
        this.pos++;
        return out;
      }
      if (ch === ' ' || ch === '\t' || ch === '\r') {
        this.pos++;
      } else if (ch === '\n') {
        this.pos++;
        out.push({ k: 'nl' });
      } else if (ch === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
      } else if (ch === '"') {
        this.pos++;
        out.push({ k: 'str', parts: this.interpolated('"') });
      } else if (ch === "'") {
        this.pos++;
        out.push({ k: 'str', parts: [this.single()] });
      } else if (ch === '`') {
        this.pos++;
        out.push({ k: 'cmd', parts: this.interpolated('`') });
      } else if (ch === '%' && this.src[this.pos + 1] === 'x') {
        const open = this.src[this.pos + 2] ?? '';
        const close = CLOSERS[open] ?? (/[|!\/^]/.test(open) ? open : undefined);
        if (close === undefined) throw new Unsupported('%x form');
        this.pos += 3;
        out.push({ k: 'cmd', parts: this.interpolated(close, close === open ? undefined : open) });
      } else if (/[0-9]/.test(ch)) {
        const m = /^[0-9][0-9_]*/.exec(this.src.slice(this.pos)) as RegExpExecArray;
        this.pos += m[0].length;
        out.push({ k: 'int', value: Number(m[0].replace(/_/g, '')) });
      } else if (ch === '@' && /[A-Za-z_]/.test(this.src[this.pos + 1] ?? '')) {
        const m = /^@[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos)) as RegExpExecArray;
        this.pos += m[0].length;
        out.push({ k: 'ivar', value: m[0] });
      } else if (/[A-Za-z_]/.test(ch)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*[?!]?/.exec(this.src.slice(this.pos)) as RegExpExecArray;
        // `x!=y` is x != y, not a method x!.
        const word = m[0].endsWith('!') && this.src[this.pos + m[0].length] === '=' ? m[0].slice(0, -1) : m[0];
        this.pos += word.length;
        out.push({ k: 'id', value: word });
      } else {
        const op = OPS.find((o) => this.src.startsWith(o, this.pos));
        if (op === undefined) throw new Unsupported(`character ${ch}`);
        this.pos += op.length;
        if (op === '{') depth++;
        if (op === '}') depth--;
        out.push({ k: 'op', value: op });
      }
    }
  }
}

// A line break continues the statement after an operator or opening bracket, or before a leading `.`.
const CONTINUES_AFTER = new Set(['||', '&&', '==', '!=', '(', '[', '{', '.', ',', '?', ':', '!', '=']);

export function statementsOf(tokens: Tok[]): Tok[][] {
  const out: Tok[][] = [];
  let current: Tok[] = [];
  let depth = 0;
  tokens.forEach((tok, i) => {
    if (tok.k === 'op' && '([{'.includes(tok.value)) depth++;
    if (tok.k === 'op' && ')]}'.includes(tok.value)) depth--;
    const prev = current[current.length - 1];
    const next = tokens[i + 1];
    const isBreak = (tok.k === 'op' && tok.value === ';') || tok.k === 'nl';
    if (!isBreak) {
      current.push(tok);
      return;
    }
    const continues =
      tok.k === 'nl' &&
      (depth > 0 || (prev?.k === 'op' && CONTINUES_AFTER.has(prev.value)) || (next?.k === 'op' && next.value === '.'));
    if (continues) return;
    if (current.length) out.push(current);
    current = [];
  });
  if (current.length) out.push(current);
  return out;
}
