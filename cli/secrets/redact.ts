// Replacing secret values in text that is about to be shown.

export const REDACTED = '[REDACTED]';

/**
 * A function that replaces every occurrence of any of `values` with
 * [REDACTED]. Besides each value as is, it also hides the value as it looks
 * inside a JSON string (`--json` output escapes quotes and line breaks) and
 * each line of a multi-line value on its own (a PEM key shown line by line).
 * Longest first, so a value that contains another is hidden whole.
 */
export function makeRedactor(values: Iterable<string>): (text: string) => string {
  const needles = new Set<string>();
  for (const value of values) {
    if (value === '') continue;
    needles.add(value);
    const inJson = JSON.stringify(value).slice(1, -1);
    if (inJson !== value) needles.add(inJson);
    if (/[\r\n]/.test(value)) {
      for (const line of value.split(/\r\n|\r|\n/)) {
        if (line.trim() !== '') needles.add(line);
      }
    }
  }
  if (needles.size === 0) return (text: string) => text;
  // One pass with the longest alternatives first: a value containing another is
  // hidden whole, and nothing is matched again inside an inserted [REDACTED].
  const pattern = new RegExp(
    [...needles]
      .sort((a, b) => b.length - a.length)
      .map((needle) => needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'g',
  );
  return (text: string) => text.replace(pattern, REDACTED);
}
