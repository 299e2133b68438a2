// PURE: the rules for a maintenance message, shared by the CLI (checked before
// any server is contacted), the agent API and the router (each checks again,
// since each is its own trust boundary).

import { z } from 'zod';
import { UNPRINTABLE } from './operator-text.js';

export const MAX_MAINTENANCE_MESSAGE_CHARS = 1000;

/** What the router shows when a route is in maintenance without a message. */
export const DEFAULT_MAINTENANCE_MESSAGE = 'This service is down for maintenance.';

/** Why `message` cannot be a maintenance message, or undefined when it can. */
export function maintenanceMessageProblem(message: string): string | undefined {
  if (message.trim() === '') return 'must not be empty (leave it out for the default message)';
  if (message.length > MAX_MAINTENANCE_MESSAGE_CHARS) return `must be at most ${MAX_MAINTENANCE_MESSAGE_CHARS} characters`;
  if (UNPRINTABLE.test(message)) return 'must be printable text on one line (no control characters)';
  return undefined;
}


/** The message as a zod field, for the API body and the router's route sets. */
export const maintenanceMessageSchema = z.string().superRefine((m, ctx) => {
  const problem = maintenanceMessageProblem(m);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
