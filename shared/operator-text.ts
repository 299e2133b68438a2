// PURE: free text an operator attaches to an action (a lock's reason). It is
// stored, audited and printed on other people's terminals, so it is bounded and
// must be printable: no control, format (bidi overrides) or separator characters.
import { UserError } from './errors.js';

export const MAX_LOCK_MESSAGE_CHARS = 500;

/** Characters no one-line notice shown on someone else's terminal or page may hold. */
export const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;

/** The message trimmed, or a UserError naming what is wrong with it. */
export function checkOperatorMessage(value: unknown, what: string, max: number): string {
  if (typeof value !== 'string') throw new UserError(`${what} must be a string`);
  const text = value.trim();
  const length = [...text].length;
  if (length === 0) throw new UserError(`${what} must not be empty`, 'say why, e.g. -m "database migration in progress"');
  if (length > max) throw new UserError(`${what} is ${length} characters; at most ${max}`);
  const bad = UNPRINTABLE.exec(text);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new UserError(`${what} contains an unprintable character (U+${code})`);
  }
  return text;
}
