// Renders an ERB template with the Ruby subset of erb-ruby-expr.ts, when Ruby
// itself is not there (or BERTH_ERB=builtin). Values follow Ruby's rules (nil
// and false are the only false values, `<%= nil %>` prints nothing, ENV.fetch
// of an unset name raises). Everything outside the subset is an error that
// names the tag's code and line and asks for Ruby. Messages name code from the
// template, never a value it evaluated to: values may be secrets. Pure: files,
// commands and dotenv files come through ErbHost.

import { resolve } from 'node:path';
import { ConfigError } from '../../shared/errors.js';
import { parseCodeTag, parseOutputTag, type Expr, type Statement } from './erb-ruby-expr.js';
import { Unsupported } from './erb-ruby-lex.js';
import { markText, scanErb, type Segment } from './erb-scan.js';

export const RUBY_HINT = "install Ruby (apt install ruby) and Berth renders deploy.yml with Ruby's own ERB, as Kamal does";

/** A failed effect; `reason` names no value (e.g. "exited with status 1", "ENOENT"). */
export class ErbEffectError extends Error {}

export interface ErbHost {
  /** Ruby's Dir.pwd under Kamal: the app directory. */
  cwd: string;
  /** ENV as templates see it; Dotenv.load adds to it. */
  env: Map<string, string>;
  /** Backticks and %x(): what the command printed (Ruby ignores its exit status). */
  run(command: string, env: Record<string, string>): Promise<string>;
  readFile(absolutePath: string): Promise<string>;
  /** A dotenv file's values, expanded against `env`; undefined when the file does not exist. */
  readDotenv(absolutePath: string, env: Record<string, string>): Promise<Map<string, string> | undefined>;
}

type Value = string | number | boolean | null;

interface Frame {
  outer: boolean;
  taken: boolean;
}

function truthy(v: Value): boolean {
  return v !== null && v !== false;
}

function toS(v: Value): string {
  return v === null ? '' : String(v);
}

function typeName(v: Value): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return 'a String';
  if (typeof v === 'number') return 'an Integer';
  return v ? 'true' : 'false';
}

function isBlank(v: Value): boolean {
  if (v === null || v === false) return true;
  return typeof v === 'string' && /^\s*$/u.test(v);
}

function callMethod(recv: Value, method: string): Value {
  if (method === 'to_s') return toS(recv);
  if (method === 'nil?') return recv === null;
  if (method === 'blank?') return isBlank(recv);
  if (method === 'present?') return !isBlank(recv);
  if (method === 'presence') return isBlank(recv) ? null : recv;
  if (method === 'to_i') {
    if (recv === null) return 0;
    if (typeof recv === 'number') return recv;
    if (typeof recv === 'string') {
      const m = /^[ \t\n\v\f\r]*([+-]?\d+(?:_\d+)*)/.exec(recv);
      return m ? Number((m[1] as string).replace(/_/g, '')) : 0;
    }
  }
  if (typeof recv === 'string') {
    switch (method) {
      case 'strip':
        return recv.replace(/^[ \t\n\v\f\r]+/, '').replace(/[ \t\n\v\f\r\0]+$/, '');
      case 'lstrip':
        return recv.replace(/^[ \t\n\v\f\r]+/, '');
      case 'rstrip':
        return recv.replace(/[ \t\n\v\f\r\0]+$/, '');
      case 'chomp':
        return recv.replace(/(\r\n|\n|\r)$/, '');
      case 'downcase':
        return recv.toLowerCase();
      case 'upcase':
        return recv.toUpperCase();
      case 'empty?':
        return recv === '';
    }
  }
  throw new ErbEffectError(`undefined method ${method} for ${typeName(recv)}`);
}

export function renderedTooLarge(file: string, maxBytes: number): ConfigError {
  return new ConfigError(`${file} renders (ERB) to more than ${maxBytes} bytes`);
}

function snippet(code: string): string {
  const flat = code.replace(/\s+/g, ' ').trim();
  return flat.length > 100 ? `${flat.slice(0, 97)}...` : flat;
}

/** Whether output so far ends in a YAML comment line: `kamal init` writes `# RUBY_VERSION: <%= … RUBY_ENGINE … %>`. */
function inComment(out: string, nonce: string): boolean {
  const line = out.slice(out.lastIndexOf('\n') + 1).replace(new RegExp(`\\u0001${nonce}:\\d+\\u0002`, 'g'), '');
  return /^[ \t]*#/.test(line);
}

/** An expression in a comment line: what it prints cannot change the config, so one outside the subset prints nothing. */
function parseOrSkip(code: string): Expr | undefined {
  try {
    return parseOutputTag(code);
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** One rendering session: @variables and locals set in one file are seen by the next, as in Kamal's one Ruby process. */
export class BuiltinErb {
  private readonly vars = new Map<string, Value>();

  constructor(private readonly host: ErbHost) {}

  private envObject(): Record<string, string> {
    return Object.fromEntries(this.host.env);
  }

  private async loadDotenv(files: string[], overwrite: boolean, strict: boolean): Promise<void> {
    for (const file of files.length ? files : ['.env']) {
      const values = await this.host.readDotenv(resolve(this.host.cwd, file), this.envObject());
      if (values === undefined) {
        if (strict) throw new ErbEffectError(`file ${file} not found`);
        continue;
      }
      for (const [key, value] of values) if (overwrite || !this.host.env.has(key)) this.host.env.set(key, value);
    }
  }

  private async str(v: Value, what: string): Promise<string> {
    if (typeof v !== 'string') throw new ErbEffectError(`${what} must be a String, not ${typeName(v)}`);
    return v;
  }

  private async parts(parts: (string | Expr)[]): Promise<string> {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : toS(await this.eval(p));
    return out;
  }

  async eval(e: Expr): Promise<Value> {
    switch (e.t) {
      case 'str':
        return this.parts(e.parts);
      case 'int':
        return e.value;
      case 'lit':
        return e.value;
      case 'dir':
        // Kamal's ERB has no file name, so __dir__ is "." (the working directory).
        return '.';
      case 'env':
        return this.host.env.get(await this.str(await this.eval(e.key), 'an ENV name')) ?? null;
      case 'fetch': {
        const key = await this.str(await this.eval(e.key), 'an ENV name');
        const value = this.host.env.get(key);
        if (value !== undefined) return value;
        if (e.fallback === undefined) throw new ErbEffectError(`raised KeyError: ${key} is not set`);
        return this.eval(e.fallback);
      }
      case 'cmd':
        return this.host.run(await this.parts(e.parts), this.envObject());
      case 'read':
        return this.host.readFile(resolve(this.host.cwd, await this.str(await this.eval(e.path), 'a path')));
      case 'expand': {
        const dir = e.dir === undefined ? '.' : await this.str(await this.eval(e.dir), 'a directory');
        return resolve(this.host.cwd, dir, await this.str(await this.eval(e.path), 'a path'));
      }
      case 'var':
        if (this.vars.has(e.name)) return this.vars.get(e.name) as Value;
        if (e.name.startsWith('@')) return null;
        throw new Unsupported(e.name);
      case 'call':
        return callMethod(await this.eval(e.recv), e.method);
      case 'not':
        return !truthy(await this.eval(e.expr));
      case 'bin': {
        const left = await this.eval(e.left);
        if (e.op === '||') return truthy(left) ? left : this.eval(e.right);
        if (e.op === '&&') return truthy(left) ? this.eval(e.right) : left;
        const same = left === (await this.eval(e.right));
        return e.op === '==' ? same : !same;
      }
      case 'cond':
        return truthy(await this.eval(e.test)) ? this.eval(e.then) : this.eval(e.else);
      case 'dotenv': {
        const files: string[] = [];
        for (const f of e.files) files.push(await this.str(await this.eval(f), 'a dotenv file name'));
        await this.loadDotenv(files, e.overwrite, e.strict);
        return null;
      }
      case 'require':
        if (e.name === 'dotenv') return null;
        if (e.name === 'dotenv/load') {
          await this.loadDotenv([], false, false);
          return null;
        }
        throw new Unsupported(`require ${e.name}`);
    }
  }

  /**
   * The rendered template, with line markers (erb-scan.ts) before each text
   * line break. Throws ConfigError naming `file`:line.
   */
  async render(src: string, file: string, nonce: string, maxBytes: number): Promise<string> {
    let out = '';
    let active = true;
    const frames: Frame[] = [];
    const at = (seg: Segment) => `${file}:${seg.line}`;
    for (const seg of scanErb(src)) {
      if (seg.kind === 'unterminated') throw new ConfigError(`ERB tag opened with <% is never closed with %> (${at(seg)})`);
      if (seg.kind === 'comment') continue;
      if (seg.kind === 'text') {
        if (active) out += markText(seg.text, seg.line, nonce);
      } else {
        try {
          if (seg.kind === 'expr') {
            const expr = inComment(out, nonce) ? parseOrSkip(seg.code) : parseOutputTag(seg.code);
            if (active && expr !== undefined) out += toS(await this.eval(expr));
          } else {
            active = await this.runTag(parseCodeTag(seg.code), active, frames);
          }
        } catch (err) {
          const tag = `<%${seg.kind === 'expr' ? '=' : ''} ${snippet(seg.code)} %>`;
          if (err instanceof Unsupported) throw new ConfigError(`ERB ${tag} is not supported without Ruby (${at(seg)})`, RUBY_HINT);
          if (err instanceof ErbEffectError) throw new ConfigError(`ERB ${tag} failed: ${err.message} (${at(seg)})`);
          throw err;
        }
      }
      // Markers add a little; the exact limit is checked on the unmarked text.
      if (out.length > maxBytes * 2) throw renderedTooLarge(file, maxBytes);
    }
    if (frames.length) throw new ConfigError(`ERB: an if/unless block is not closed with <% end %> (${file})`);
    return out;
  }

  /**
   * One `<% %>` tag's statements. `begin … rescue … end` is taken within one
   * tag only (`begin; require "dotenv"; Dotenv.load(…); rescue LoadError; end`).
   * What the subset raises are Ruby StandardErrors (a file, a command, a
   * missing key), so only a bare `rescue` or `rescue StandardError` catches
   * them; `rescue LoadError` catches nothing here, as the subset's requires
   * always load.
   */
  private async runTag(list: Statement[], active: boolean, frames: Frame[]): Promise<boolean> {
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as Statement;
      if (s.t !== 'begin') {
        active = await this.run(s, active, frames);
        continue;
      }
      const endAt = list.findIndex((x, j) => j > i && x.t === 'end');
      const inner = list.slice(i + 1, endAt === -1 ? list.length : endAt);
      if (endAt === -1 || inner.some((x) => ['begin', 'if', 'unless', 'elsif', 'else'].includes(x.t))) throw new Unsupported('begin … end over several tags or around if');
      const rescueAt = inner.findIndex((x) => x.t === 'rescue');
      const body = rescueAt === -1 ? inner : inner.slice(0, rescueAt);
      const rescue = rescueAt === -1 ? undefined : (inner[rescueAt] as Extract<Statement, { t: 'rescue' }>);
      const handler = rescueAt === -1 ? [] : inner.slice(rescueAt + 1);
      if (handler.some((x) => x.t === 'rescue')) throw new Unsupported('several rescue clauses');
      if (active) {
        try {
          for (const b of body) await this.run(b, true, frames);
        } catch (err) {
          const catches = rescue !== undefined && (rescue.classes.length === 0 || rescue.classes.some((c) => c === 'StandardError' || c === 'Exception'));
          if (!(err instanceof ErbEffectError) || !catches) throw err;
          for (const h of handler) await this.run(h, true, frames);
        }
      }
      i = endAt;
    }
    return active;
  }

  private async run(s: Statement, active: boolean, frames: Frame[]): Promise<boolean> {
    switch (s.t) {
      case 'begin':
      case 'rescue':
        throw new Unsupported(s.t);
      case 'if':
      case 'unless': {
        const pass = active && truthy(await this.eval(s.test)) === (s.t === 'if');
        frames.push({ outer: active, taken: pass });
        return pass;
      }
      case 'elsif':
      case 'else': {
        const frame = frames[frames.length - 1];
        if (!frame) throw new Unsupported(`${s.t} without if`);
        if (!frame.outer || frame.taken) return false;
        const pass = s.t === 'elsif' ? truthy(await this.eval(s.test)) : true;
        frame.taken = pass;
        return pass;
      }
      case 'end': {
        const frame = frames.pop();
        if (!frame) throw new Unsupported('end without if');
        return frame.outer;
      }
      case 'assign':
        if (active) this.vars.set(s.name, await this.eval(s.expr));
        return active;
      case 'expr':
        if (active) await this.eval(s.expr);
        return active;
    }
  }
}
