// Parser for Kamal 2's secrets files: the dotenv gem's format (3.x), which
// Kamal reads with `Dotenv.parse`. It only splits the text into entries and
// undoes quoting; `$VAR` and `$(command)` are left for substitute.ts, so this
// file stays pure and a secrets file can be checked without running anything.
//
// Where the gem silently skips a line it cannot match, we refuse it with the
// file and line: a secret that quietly vanishes is worse than an error. No
// message here ever quotes the file's text, since any part of it may be a secret.

import { ConfigError } from '../../shared/errors.js';

export const MAX_SECRETS_FILE_BYTES = 1024 * 1024;

export type Quote = 'single' | 'double' | 'none';

/** `KEY=value`: `value` is unquoted and unescaped; `\$` is kept for the substitution step. */
export interface DotenvEntry {
  line: number;
  key: string;
  value: string;
  quote: Quote;
}

/** `export KEY` with no value: legal only when KEY was set earlier in the same file, and then a no-op. */
type ParsedLine = (DotenvEntry & { kind: 'assign' }) | { kind: 'export'; line: number; key: string };

const KEY_CHAR = /[A-Za-z0-9_.]/;

function isBlank(ch: string | undefined): boolean {
  return ch === ' ' || ch === '\t' || ch === '\v' || ch === '\f';
}

/** Line endings as the gem normalizes them (`\r\n` and lone `\r` become `\n`), minus a leading BOM. */
export function normalizeText(text: string): string {
  return (text.startsWith('\uFEFF') ? text.slice(1) : text).replace(/\r\n?/g, '\n');
}

/**
 * Double quotes: `\X` becomes X for every X but `$` (kept for substitution),
 * `n` and `r`. dotenv 3 keeps `\n` and `\r` as written (a backslash and the
 * letter) unless DOTENV_LINEBREAK_MODE is `legacy`, which makes them line
 * breaks. Unquoted values get only the first step, like the gem.
 */
function unescape(value: string, quote: 'double' | 'none', legacyLinebreaks: boolean): string {
  return value.replace(/\\([\s\S])/g, (all, ch: string) => {
    if (ch === '$') return all;
    if (quote === 'double' && (ch === 'n' || ch === 'r')) return legacyLinebreaks ? (ch === 'n' ? '\n' : '\r') : all;
    return ch;
  });
}

export interface DotenvOptions {
  /** The environment's DOTENV_LINEBREAK_MODE; the file's own setting, on an earlier line, wins. */
  linebreakMode?: string | undefined;
}

class Scanner {
  pos = 0;
  line = 1;
  legacyLinebreaks = false;
  constructor(
    readonly text: string,
    readonly file: string,
  ) {}

  peek(offset = 0): string | undefined {
    return this.text[this.pos + offset];
  }

  advance(): string {
    const ch = this.text[this.pos++] ?? '';
    if (ch === '\n') this.line++;
    return ch;
  }

  skipBlanks(): void {
    while (isBlank(this.peek())) this.advance();
  }

  restOfLine(): string {
    const end = this.text.indexOf('\n', this.pos);
    return this.text.slice(this.pos, end === -1 ? this.text.length : end);
  }

  skipLine(): void {
    while (this.pos < this.text.length && this.peek() !== '\n') this.advance();
    if (this.peek() === '\n') this.advance();
  }

  fail(line: number, problem: string, hint?: string): never {
    throw new ConfigError(`${this.file}:${line}: ${problem}`, hint);
  }

  /** After a value: only blanks and a `#` comment may remain on the line. */
  endOfEntry(line: number, after: string): void {
    this.skipBlanks();
    const ch = this.peek();
    if (ch === undefined || ch === '\n' || ch === '#') {
      this.skipLine();
      return;
    }
    this.fail(line, `unexpected text after ${after}`, 'put a value that has spaces, quotes or # in single or double quotes');
  }
}

function readKey(s: Scanner): string {
  const start = s.pos;
  while (s.peek() !== undefined && KEY_CHAR.test(s.peek() as string)) s.advance();
  return s.text.slice(start, s.pos);
}

/** `export` counts as the keyword only when blanks and a key follow it, so `export=1` sets a key named export. */
function readExportKeyword(s: Scanner): boolean {
  if (!s.text.startsWith('export', s.pos) || !isBlank(s.text[s.pos + 6])) return false;
  let i = s.pos + 6;
  while (isBlank(s.text[i])) i++;
  const next = s.text[i];
  if (next === undefined || !KEY_CHAR.test(next)) return false;
  s.pos = i;
  return true;
}

/** Only blanks, then a `#` comment or the end of the line, from `pos` on. */
function restIsBlank(text: string, pos: number): boolean {
  let i = pos;
  while (isBlank(text[i])) i++;
  const ch = text[i];
  return ch === undefined || ch === '\n' || ch === '#';
}

/**
 * The gem's `"(?:\\"|[^"])*"` is greedy and backtracks: a quote preceded by a
 * backslash may either stay inside the value or close it, and the longest
 * choice after which the line ends cleanly wins. So `"x\\"` is `x\`, and
 * `"say \"hi\""` keeps both inner quotes. Candidates are scanned once, so a
 * long hostile line costs linear time.
 */
function readQuoted(s: Scanner, line: number, quote: "'" | '"'): string {
  const text = s.text;
  const start = s.pos + 1;
  const candidates: number[] = [];
  let bareClose = false;
  for (let j = text.indexOf(quote, start); j !== -1; j = text.indexOf(quote, j + 1)) {
    candidates.push(j);
    if (text[j - 1] !== '\\' || j === start) {
      bareClose = true;
      break;
    }
  }
  for (let k = candidates.length - 1; k >= 0; k--) {
    const close = candidates[k] as number;
    if (!restIsBlank(text, close + 1)) continue;
    while (s.pos <= close) s.advance();
    s.endOfEntry(line, 'the closing quote');
    return text.slice(start, close);
  }
  const kind = quote === '"' ? 'double' : 'single';
  if (!bareClose) s.fail(line, `the ${kind}-quoted value that starts here is never closed`, `end it with ${quote}`);
  return s.fail(line, 'unexpected text after the closing quote', 'put a value that has spaces, quotes or # in single or double quotes');
}

function readEntry(s: Scanner): ParsedLine {
  const line = s.line;
  const exported = readExportKeyword(s);
  const key = readKey(s);
  if (key === '') {
    s.fail(line, 'expected NAME=value (a name is letters, digits, _ and .)', 'comment lines start with #');
  }
  s.skipBlanks();
  const sep = s.peek();
  if (sep === undefined || sep === '\n' || sep === '#') {
    s.skipLine();
    // The gem reads a bare `NAME` as NAME set to the empty string.
    return exported ? { kind: 'export', line, key } : { kind: 'assign', line, key, value: '', quote: 'none' };
  }
  if (sep === ':') {
    // `NAME: value` is accepted by the gem, but only with a blank after the colon.
    const after = s.peek(1);
    if (!(isBlank(after) || after === '\n' || after === undefined)) {
      s.fail(line, 'expected NAME=value or NAME: value (a blank must follow the colon)');
    }
  } else if (sep !== '=') {
    s.fail(line, 'expected NAME=value (a name is letters, digits, _ and .)');
  }
  s.advance();
  s.skipBlanks();
  const first = s.peek();
  if (first === "'" || first === '"') {
    const inner = readQuoted(s, line, first);
    return first === "'"
      ? { kind: 'assign', line, key, value: inner, quote: 'single' }
      : { kind: 'assign', line, key, value: unescape(inner, 'double', s.legacyLinebreaks), quote: 'double' };
  }
  // Unquoted: up to the end of the line or the first `#`, whatever precedes it (the gem's `[^#\n]+`).
  const rest = s.restOfLine();
  const hash = rest.indexOf('#');
  const raw = hash === -1 ? rest : rest.slice(0, hash);
  s.skipLine();
  return { kind: 'assign', line, key, value: unescape(raw.trim(), 'none', false), quote: 'none' };
}

/**
 * Entries of a secrets file in file order. `file` labels messages
 * (`.kamal/secrets:3: …`). Throws ConfigError for anything malformed.
 */
export function parseDotenv(text: string, file: string, options: DotenvOptions = {}): DotenvEntry[] {
  if (text.length > MAX_SECRETS_FILE_BYTES) {
    throw new ConfigError(`${file} is larger than ${MAX_SECRETS_FILE_BYTES / 1024 / 1024} MiB`, 'a secrets file holds NAME=value lines; keep large data out of it');
  }
  const normalized = normalizeText(text);
  const nul = normalized.indexOf('\0');
  if (nul !== -1) {
    const line = normalized.slice(0, nul).split('\n').length;
    throw new ConfigError(`${file}:${line}: contains a NUL byte, which no environment variable can hold`);
  }
  const s = new Scanner(normalized, file);
  let fileLinebreakMode: string | undefined;
  s.legacyLinebreaks = options.linebreakMode === 'legacy';
  const entries: DotenvEntry[] = [];
  const assigned = new Set<string>();
  while (s.pos < normalized.length) {
    s.skipBlanks();
    const ch = s.peek();
    if (ch === undefined) break;
    if (ch === '\n' || ch === '#') {
      s.skipLine();
      continue;
    }
    const parsed = readEntry(s);
    if (parsed.kind === 'export') {
      if (!assigned.has(parsed.key)) {
        s.fail(parsed.line, `export ${parsed.key} has no value and ${parsed.key} is not set earlier in this file`);
      }
      continue;
    }
    const { kind: _kind, ...entry } = parsed;
    entries.push(entry);
    assigned.add(entry.key);
    if (entry.key === 'DOTENV_LINEBREAK_MODE') fileLinebreakMode = entry.value;
    s.legacyLinebreaks = (fileLinebreakMode ?? options.linebreakMode) === 'legacy';
  }
  return entries;
}
