// Kamal appends `cmd` to a `docker run` line that the server's shell parses, so
// `bash -c "…"` reaches the container as three words. Berth runs no shell: it
// splits the words with the same quoting rules, and refuses what only a host
// shell would do (expansions, pipes, redirections), since under Kamal those ran
// on the host, not in the container.

export type ShellWords = { ok: true; words: string[] } | { ok: false; reason: string };

const OPERATORS = new Set([';', '|', '&', '<', '>', '(', ')']);
// Inside double quotes a backslash escapes only these (POSIX).
const DQ_ESCAPABLE = new Set(['$', '`', '"', '\\', '\n']);

export function splitShellWords(text: string): ShellWords {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const fail = (reason: string): ShellWords => ({ ok: false, reason });
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return fail('has an unterminated single quote');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= text.length) return fail('has an unterminated double quote');
        const d = text[i] as string;
        if (d === '"') break;
        if (d === '\\' && DQ_ESCAPABLE.has(text[i + 1] ?? '')) {
          if (text[i + 1] !== '\n') word += text[i + 1];
          i += 2;
        } else if (d === '$' || d === '`') {
          return fail(`expands ${d === '$' ? '$' : '`'} inside double quotes, which the host shell did under Kamal; escape it (\\${d}) or use single quotes`);
        } else {
          word += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= text.length) return fail('ends with a backslash');
      if (text[i + 1] !== '\n') word += text[i + 1];
      inWord = true;
      i += 2;
    } else if (c === '$' || c === '`') {
      return fail(`uses ${c} outside quotes, which the host shell expanded under Kamal; quote it, or run it in the container with sh -c '…'`);
    } else if (OPERATORS.has(c)) {
      return fail(`uses "${c}" outside quotes, which the host shell interpreted under Kamal; run it in the container with sh -c '…'`);
    } else if (((c === '#' || c === '~') && !inWord) || c === '*' || c === '?' || c === '[') {
      return fail(`uses "${c}" outside quotes, which the host shell interpreted under Kamal; quote it`);
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) return fail('is empty');
  return { ok: true, words };
}
