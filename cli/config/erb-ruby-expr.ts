// The Ruby subset Berth evaluates itself when Ruby is not installed: a lexer
// and parser for what real deploy.yml files put inside ERB tags (ENV lookups,
// backticks, File.read, ||, ternaries, a few String methods, @variables,
// Dotenv.load and if/else/end around text). Anything else is a parse failure,
// which the caller reports as "install Ruby". Pure.

export type Expr =
  | { t: 'str'; parts: (string | Expr)[] }
  | { t: 'int'; value: number }
  | { t: 'lit'; value: null | boolean }
  | { t: 'env'; key: Expr }
  | { t: 'fetch'; key: Expr; fallback?: Expr }
  | { t: 'cmd'; parts: (string | Expr)[] }
  | { t: 'read'; path: Expr }
  | { t: 'expand'; path: Expr; dir?: Expr }
  | { t: 'dir' }
  | { t: 'var'; name: string }
  | { t: 'call'; recv: Expr; method: string }
  | { t: 'not'; expr: Expr }
  | { t: 'bin'; op: '||' | '&&' | '==' | '!='; left: Expr; right: Expr }
  | { t: 'cond'; test: Expr; then: Expr; else: Expr }
  | { t: 'dotenv'; files: Expr[]; overwrite: boolean; strict: boolean }
  | { t: 'require'; name: string };

export type Statement =
  | { t: 'if' | 'unless' | 'elsif'; test: Expr }
  | { t: 'else' | 'end' }
  | { t: 'assign'; name: string; expr: Expr }
  | { t: 'expr'; expr: Expr };

/** Methods the subset knows, on strings, integers and nil (ActiveSupport's among them, as Kamal loads it). */
export const METHODS = new Set(['strip', 'lstrip', 'rstrip', 'chomp', 'to_s', 'to_i', 'downcase', 'upcase', 'presence', 'present?', 'blank?', 'empty?', 'nil?']);

export class Unsupported extends Error {}

type Tok =
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

class Lexer {
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

function statementsOf(tokens: Tok[]): Tok[][] {
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

class Parser {
  i = 0;
  constructor(readonly toks: Tok[]) {}

  peek(): Tok | undefined {
    return this.toks[this.i];
  }
  isOp(value: string): boolean {
    const t = this.peek();
    return t?.k === 'op' && t.value === value;
  }
  isId(value: string): boolean {
    const t = this.peek();
    return t?.k === 'id' && t.value === value;
  }
  expectOp(value: string): void {
    if (!this.isOp(value)) throw new Unsupported(`expected ${value}`);
    this.i++;
  }
  done(): void {
    if (this.i < this.toks.length) throw new Unsupported('trailing tokens');
  }

  expr(): Expr {
    const test = this.or();
    if (!this.isOp('?')) return test;
    this.i++;
    const then = this.expr();
    this.expectOp(':');
    return { t: 'cond', test, then, else: this.expr() };
  }
  or(): Expr {
    let left = this.and();
    while (this.isOp('||')) {
      this.i++;
      left = { t: 'bin', op: '||', left, right: this.and() };
    }
    return left;
  }
  and(): Expr {
    let left = this.equality();
    while (this.isOp('&&')) {
      this.i++;
      left = { t: 'bin', op: '&&', left, right: this.equality() };
    }
    return left;
  }
  equality(): Expr {
    const left = this.unary();
    const t = this.peek();
    if (t?.k === 'op' && (t.value === '==' || t.value === '!=')) {
      this.i++;
      return { t: 'bin', op: t.value, left, right: this.unary() };
    }
    return left;
  }
  unary(): Expr {
    if (this.isOp('!')) {
      this.i++;
      return { t: 'not', expr: this.unary() };
    }
    return this.postfix();
  }
  postfix(): Expr {
    let recv = this.primary();
    while (this.isOp('.')) {
      this.i++;
      const name = this.peek();
      if (name?.k !== 'id' || !METHODS.has(name.value)) throw new Unsupported('method');
      this.i++;
      if (this.isOp('(')) {
        this.i++;
        this.expectOp(')');
      }
      recv = { t: 'call', recv, method: name.value };
    }
    return recv;
  }
  args(): Expr[] {
    this.expectOp('(');
    const out: Expr[] = [];
    while (!this.isOp(')')) {
      out.push(this.expr());
      if (!this.isOp(')')) this.expectOp(',');
    }
    this.i++;
    return out;
  }
  /** A call's arguments in parentheses or, Ruby-style, without them up to the statement's end. */
  looseArgs(): Expr[] {
    if (this.isOp('(')) return this.args();
    const out: Expr[] = [];
    while (this.peek() !== undefined) {
      out.push(this.expr());
      if (this.peek() !== undefined) this.expectOp(',');
    }
    return out;
  }
  staticCall(recv: string): Expr {
    this.expectOp('.');
    const name = this.peek();
    if (name?.k !== 'id') throw new Unsupported('call');
    this.i++;
    const method = `${recv}.${name.value}`;
    if (method === 'ENV.fetch') {
      const [key, fallback, ...rest] = this.args();
      if (!key || rest.length) throw new Unsupported('ENV.fetch arguments');
      if (fallback === undefined && this.isOp('{')) {
        this.i++;
        const block = this.expr();
        this.expectOp('}');
        return { t: 'fetch', key, fallback: block };
      }
      return fallback === undefined ? { t: 'fetch', key } : { t: 'fetch', key, fallback };
    }
    if (method === 'File.read') {
      const [path, ...rest] = this.args();
      if (!path || rest.length) throw new Unsupported('File.read arguments');
      return { t: 'read', path };
    }
    if (method === 'File.expand_path') {
      const [path, dir, ...rest] = this.args();
      if (!path || rest.length) throw new Unsupported('File.expand_path arguments');
      return dir === undefined ? { t: 'expand', path } : { t: 'expand', path, dir };
    }
    const dotenv = /^Dotenv\.(load|overload)(!?)$/.exec(method);
    if (dotenv) {
      return { t: 'dotenv', files: this.looseArgs(), overwrite: dotenv[1] === 'overload', strict: dotenv[2] === '!' };
    }
    throw new Unsupported(method);
  }
  primary(): Expr {
    const tok = this.peek();
    if (tok === undefined) throw new Unsupported('missing expression');
    this.i++;
    switch (tok.k) {
      case 'str':
        return { t: 'str', parts: tok.parts.map((p) => (typeof p === 'string' ? p : parseExpression(p))) };
      case 'cmd':
        return { t: 'cmd', parts: tok.parts.map((p) => (typeof p === 'string' ? p : parseExpression(p))) };
      case 'int':
        return { t: 'int', value: tok.value };
      case 'ivar':
        return { t: 'var', name: tok.value };
      case 'nl':
        throw new Unsupported('line break');
      case 'op': {
        if (tok.value !== '(') throw new Unsupported(tok.value);
        const inner = this.expr();
        this.expectOp(')');
        return inner;
      }
      case 'id':
        break;
    }
    switch (tok.value) {
      case 'nil':
        return { t: 'lit', value: null };
      case 'true':
        return { t: 'lit', value: true };
      case 'false':
        return { t: 'lit', value: false };
      case '__dir__':
        return { t: 'dir' };
      case 'ENV':
        if (this.isOp('[')) {
          this.i++;
          const key = this.expr();
          this.expectOp(']');
          return { t: 'env', key };
        }
        return this.staticCall('ENV');
      case 'File':
      case 'Dotenv':
        return this.staticCall(tok.value);
      case 'require': {
        const [name, ...rest] = this.looseArgs();
        if (name?.t !== 'str' || name.parts.length !== 1 || typeof name.parts[0] !== 'string' || rest.length) throw new Unsupported('require');
        return { t: 'require', name: name.parts[0] };
      }
      default:
        // A local variable set earlier in this template; Ruby would also call a method of that name.
        if (/^[a-z_][A-Za-z0-9_]*$/.test(tok.value)) return { t: 'var', name: tok.value };
        throw new Unsupported(tok.value);
    }
  }

  statement(): Statement {
    const first = this.peek();
    if (first?.k === 'id' && ['if', 'unless', 'elsif'].includes(first.value)) {
      this.i++;
      const test = this.expr();
      if (this.isId('then')) this.i++;
      return { t: first.value as 'if' | 'unless' | 'elsif', test };
    }
    if (first?.k === 'id' && (first.value === 'else' || first.value === 'end')) {
      this.i++;
      return { t: first.value };
    }
    const second = this.toks[this.i + 1];
    if ((first?.k === 'ivar' || (first?.k === 'id' && /^[a-z_]/.test(first.value))) && second?.k === 'op' && second.value === '=') {
      this.i += 2;
      return { t: 'assign', name: first.value, expr: this.expr() };
    }
    return { t: 'expr', expr: this.expr() };
  }
}

function parseExpression(tokens: Tok[]): Expr {
  const p = new Parser(tokens.filter((t) => t.k !== 'nl'));
  const e = p.expr();
  p.done();
  return e;
}

/** The expression of a `<%= %>` tag; throws Unsupported. */
export function parseOutputTag(code: string): Expr {
  const statements = statementsOf(new Lexer(code).tokens());
  if (statements.length !== 1) throw new Unsupported('one expression expected');
  return parseExpression(statements[0] as Tok[]);
}

/** The statements of a `<% %>` tag; throws Unsupported. */
export function parseCodeTag(code: string): Statement[] {
  return statementsOf(new Lexer(code).tokens()).map((toks) => {
    const p = new Parser(toks);
    const s = p.statement();
    p.done();
    return s;
  });
}
