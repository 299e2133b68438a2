// Ruby's Shellwords, which Kamal applies to `kamal secrets …` inside `$(…)`:
// fetch's JSON is shell-escaped into the secret's value, and the extract line
// splits it back into one word. Both halves must round-trip exactly as in Ruby,
// so a value set by `fetch` and read by `extract` is the same bytes. Unlike a
// shell (cli/config/shell-words.ts) nothing is refused: `|` is just a word.

const WS = ' \\t\\n\\v\\f\\r';
// One word piece, then the separator that ends the word (Ruby's pattern, with
// ASCII whitespace since Ruby's \s is ASCII-only).
const PIECE = new RegExp(`[${WS}]*(?:([^\\0${WS}\\\\'"]+)|'([^\\0']*)'|"((?:[^\\0"\\\\]|\\\\[^\\0])*)"|(\\\\[^\\0]?)|([^${WS}]))(?:([${WS}])|($)|)`, 'y');

export type SplitResult = { ok: true; words: string[] } | { ok: false; reason: string };

/** Ruby's `String#shellsplit`; the reason for a failure never quotes the text. */
export function rubyShellSplit(line: string): SplitResult {
  const words: string[] = [];
  let field = '';
  PIECE.lastIndex = 0;
  for (let m = PIECE.exec(line); m !== null && m[0] !== ''; m = PIECE.exec(line)) {
    const [, word, sq, dq, esc, garbage, space, end] = m;
    if (garbage !== undefined) return { ok: false, reason: garbage === '\0' ? 'a NUL character' : 'an unmatched quote' };
    if (word !== undefined) field += word;
    else if (sq !== undefined) field += sq;
    else if (dq !== undefined) field += dq.replace(/\\([$`"\\\n])/g, '$1');
    else if (esc !== undefined) field += esc.replace(/\\(.)/g, '$1');
    // The end of the line also ends a word (an alternative, since JS drops empty optional groups).
    if (space !== undefined || end !== undefined) {
      words.push(field);
      field = '';
    }
  }
  return { ok: true, words };
}

/** Ruby's `String#shellescape`. */
export function rubyShellEscape(text: string): string {
  if (text === '') return "''";
  return text.replace(/[^A-Za-z0-9_\-.,:+/@\n]/gu, '\\$&').replace(/\n/g, "'\n'");
}
