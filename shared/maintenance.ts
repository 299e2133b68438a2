// PURE: the rules for a maintenance message, shared by the CLI (checked before
// any server is contacted), the agent API and the router (each checks again,
// since each is its own trust boundary).

export const MAX_MAINTENANCE_MESSAGE_CHARS = 1000;

/** What the router shows when a route is in maintenance without a message. */
export const DEFAULT_MAINTENANCE_MESSAGE = 'This service is down for maintenance.';

// Control characters (newlines included), lone surrogates, line/paragraph
// separators and bidi overrides: none belongs on a one-line notice, and the
// last ones can make a message read differently in a terminal than it is.
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/** Why `message` cannot be a maintenance message, or undefined when it can. */
export function maintenanceMessageProblem(message: string): string | undefined {
  if (message.trim() === '') return 'must not be empty (leave it out for the default message)';
  if (message.length > MAX_MAINTENANCE_MESSAGE_CHARS) return `must be at most ${MAX_MAINTENANCE_MESSAGE_CHARS} characters`;
  if (NOT_PRINTABLE.test(message)) return 'must be printable text on one line (no control characters)';
  return undefined;
}

