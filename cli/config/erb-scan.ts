// Splits a template into text and tags exactly as Ruby's ERB does with
// trim_mode "-" (the mode Kamal renders deploy.yml in): `<%%` is a literal
// `<%`, `<%-` at a line's start also drops the line's indentation, `-%>` drops
// the line break right after it, `%%>` inside a tag is a literal `%>`.
// Also maps lines of rendered output back to source lines: every line break
// that is template text (not inside a tag, not eaten by `-%>`) gets a marker
// naming its source line, so each rendered line can say where it came from,
// whichever evaluator (Ruby's or ours) rendered it. Pure.

export type Segment =
  | { kind: 'text'; text: string; line: number }
  | { kind: 'code' | 'expr' | 'comment'; code: string; line: number }
  /** A tag with no closing `%>`: ERB prints the rest; we refuse it. */
  | { kind: 'unterminated'; line: number };

// `(?<![^\n])` is Ruby's `^`: start of input or just after "\n".
const START_TAG = /(?<![^\n])[ \t]*<%-|<%-|<%%|<%=|<%#|<%/g;
const END_TAG = /-%>|%%>|%>/g;

export function hasErb(text: string): boolean {
  return text.includes('<%');
}

function lineCounter(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

interface RawToken {
  kind: 'text' | 'code' | 'expr' | 'comment' | 'unterminated';
  /** Source offsets of the text, or of the tag's content. */
  start: number;
  end: number;
  /** The content as ERB sees it (`<%%` / `%%>` undone). */
  value: string;
}

function scanTokens(src: string): RawToken[] {
  const tokens: RawToken[] = [];
  let pos = 0;
  let text = '';
  let textStart = 0;
  const flushText = (end: number) => {
    if (text !== '') tokens.push({ kind: 'text', start: textStart, end, value: text });
    text = '';
  };
  while (pos < src.length) {
    START_TAG.lastIndex = pos;
    const open = START_TAG.exec(src);
    if (!open) {
      text += src.slice(pos);
      pos = src.length;
      break;
    }
    text += src.slice(pos, open.index);
    const tag = open[0];
    pos = open.index + tag.length;
    if (tag === '<%%') {
      text += '<%';
      continue;
    }
    flushText(open.index);
    textStart = pos;
    const kind = tag === '<%=' ? 'expr' : tag === '<%#' ? 'comment' : 'code';
    const contentStart = pos;
    let content = '';
    let closed = false;
    while (pos <= src.length) {
      END_TAG.lastIndex = pos;
      const close = END_TAG.exec(src);
      if (!close) break;
      content += src.slice(pos, close.index);
      pos = close.index + close[0].length;
      if (close[0] === '%%>') {
        content += '%>';
        continue;
      }
      if (close[0] === '-%>') {
        if (src.startsWith('\r\n', pos)) pos += 2;
        else if (src[pos] === '\n') pos += 1;
      }
      closed = true;
      break;
    }
    if (!closed) {
      tokens.push({ kind: 'unterminated', start: contentStart, end: src.length, value: '' });
      return tokens;
    }
    tokens.push({ kind, start: contentStart, end: pos, value: content });
    textStart = pos;
  }
  flushText(pos);
  return tokens;
}

export function scanErb(src: string): Segment[] {
  const lineOf = lineCounter(src);
  return scanTokens(src).map((t): Segment => {
    const line = lineOf(t.start);
    if (t.kind === 'text') return { kind: 'text', text: t.value, line };
    if (t.kind === 'unterminated') return { kind: 'unterminated', line: lineOf(Math.max(0, t.start - 1)) };
    return { kind: t.kind, code: t.value, line };
  });
}

/** A marker in rendered output: the text after it comes from source line `line`. */
export function lineMarker(nonce: string, line: number): string {
  return `\u0001${nonce}:${line}\u0002`;
}

/**
 * Template text with markers: one at its start, one after each line break.
 * `text` starts on source line `line`. With `trailing` false no marker follows
 * a final line break: Ruby's `<%-` only trims indentation at a line's start.
 */
export function markText(text: string, line: number, nonce: string, trailing = true): string {
  let current = line;
  const marked = text.replace(/\n/g, () => `\n${lineMarker(nonce, ++current)}`);
  const out = lineMarker(nonce, line) + marked;
  return !trailing && text.endsWith('\n') ? out.slice(0, out.length - lineMarker(nonce, current).length) : out;
}

/** The template with markers in its text (never inside a tag), for a renderer we do not control (Ruby). */
export function markTemplate(src: string, nonce: string): string {
  const lineOf = lineCounter(src);
  let out = '';
  let pos = 0;
  for (const t of scanTokens(src)) {
    if (t.kind !== 'text') continue;
    // Markers go into the raw source span, so `<%%` and the like stay as written.
    const trailing = !/^[ \t]*<%-/.test(src.slice(t.end, t.end + 64));
    out += src.slice(pos, t.start) + markText(src.slice(t.start, t.end), lineOf(t.start), nonce, trailing);
    pos = t.end;
  }
  return out + src.slice(pos);
}

export interface Unmarked {
  text: string;
  /** lines[i] is the source line of rendered line i + 1. */
  lines: number[];
}

/**
 * Rendered output without markers, and the source line each rendered line
 * starts on: the marker in force at its first character. What a tag printed
 * has no marker of its own and so belongs to the line the tag is on.
 */
export function unmark(rendered: string, nonce: string): Unmarked {
  const marker = new RegExp(`\\u0001${nonce}:(\\d+)\\u0002`, 'g');
  const lines: number[] = [];
  let current = 1;
  for (const raw of rendered.split('\n')) {
    // Markers before the line's first character: the last of them is in force there.
    let at = 0;
    let head = current;
    for (const m of raw.matchAll(marker)) {
      if (m.index === at) {
        head = Number(m[1]);
        at += m[0].length;
      }
      current = Number(m[1]);
    }
    lines.push(head);
  }
  return { text: rendered.replace(marker, ''), lines };
}
