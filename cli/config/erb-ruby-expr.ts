// The Ruby subset Berth evaluates itself when Ruby is not installed: a
// parser for what real deploy.yml files put inside ERB tags (ENV lookups,
// backticks, File.read, ||, ternaries, a few String methods, @variables,
// Dotenv.load and if/else/end around text). Anything else is a parse failure,
// which the caller reports as "install Ruby". Tokens come from erb-ruby-lex.ts. Pure.

import { Lexer, statementsOf, Unsupported, type Tok } from './erb-ruby-lex.js';

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
  | { t: 'else' | 'end' | 'begin' }
  /** `rescue A, B::C` inside one tag's `begin … end`; no classes: StandardError. */
  | { t: 'rescue'; classes: string[] }
  | { t: 'assign'; name: string; expr: Expr }
  | { t: 'expr'; expr: Expr };

/** Methods the subset knows, on strings, integers and nil (ActiveSupport's among them, as Kamal loads it). */
export const METHODS = new Set(['strip', 'lstrip', 'rstrip', 'chomp', 'to_s', 'to_i', 'downcase', 'upcase', 'presence', 'present?', 'blank?', 'empty?', 'nil?']);

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

/** `A, B::C` after `rescue`: constant names only (`=> e` is not in the subset). */
function rescueClasses(toks: Tok[]): string[] {
  const names: string[] = [];
  let name = '';
  for (const tok of toks) {
    if (tok.k === 'id' && /^[A-Z]/.test(tok.value) && (name === '' || name.endsWith('::'))) name += tok.value;
    else if (tok.k === 'op' && tok.value === '::' && name !== '' && !name.endsWith('::')) name += '::';
    else if (tok.k === 'op' && tok.value === ',' && name !== '' && !name.endsWith('::')) {
      names.push(name);
      name = '';
    } else throw new Unsupported('rescue with anything but class names');
  }
  if (name.endsWith('::') || (name === '' && names.length > 0)) throw new Unsupported('rescue');
  return name ? [...names, name] : names;
}

/** The statements of a `<% %>` tag; throws Unsupported. */
export function parseCodeTag(code: string): Statement[] {
  const out: Statement[] = [];
  for (const group of statementsOf(new Lexer(code).tokens())) {
    let toks = group.filter((t) => t.k !== 'nl');
    const first = toks[0];
    if (first?.k === 'id' && first.value === 'begin') {
      out.push({ t: 'begin' });
      toks = toks.slice(1);
      if (toks.length === 0) continue;
    }
    const head = toks[0];
    if (head?.k === 'id' && head.value === 'rescue') {
      out.push({ t: 'rescue', classes: rescueClasses(toks.slice(1)) });
      continue;
    }
    const p = new Parser(toks);
    out.push(p.statement());
    p.done();
  }
  return out;
}
