// Validating what logs and exec requests ask for: query strings and the exec
// body. Everything is refused with a 400 that names the field.
import { z } from 'zod';
import { UserError } from '../../shared/errors.js';
import { NAME } from '../../shared/manifest.js';

const DEFAULT_TAIL = 100;
const MAX_TAIL = 10_000;
const MAX_CMD_ARGS = 64;
const MAX_ARG_CHARS = 4096;

const MAX_SINCE_SECONDS = 10 * 366 * 86_400;
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export function boolParam(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new UserError(`${name} must be 1 or 0`);
}

export function tailParam(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_TAIL;
  if (!/^\d{1,6}$/.test(value) || Number(value) > MAX_TAIL) throw new UserError(`tail must be a whole number from 0 to ${MAX_TAIL}`);
  return Number(value);
}

/**
 * `since`: a duration back from now (`90` seconds, `10m`, `2h`, `1d`) or an
 * ISO 8601 time. Returns Unix seconds, or undefined when absent.
 */
export function sinceParam(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const bad = () => new UserError(`since "${value.slice(0, 60)}" is neither a duration (90, 10m, 2h, 1d) nor an ISO time`, 'e.g. since=10m or since=2024-05-01T12:00:00Z');
  const d = /^(\d{1,9})([smhd]?)$/.exec(value);
  if (d) {
    const seconds = Number(d[1]) * (UNITS[d[2] || 's'] ?? 1);
    if (seconds > MAX_SINCE_SECONDS) throw bad();
    return Math.max(0, Math.floor(nowMs / 1000) - seconds);
  }
  if (!ISO_TIME.test(value)) throw bad();
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || ms < 0) throw bad();
  return Math.floor(ms / 1000);
}

const arg = z
  .string()
  .max(MAX_ARG_CHARS, `each argument must be at most ${MAX_ARG_CHARS} characters`)
  .refine((s) => !s.includes('\0'), 'an argument must not contain NUL');

const cmdSchema = z.array(arg).min(1, 'cmd must name a command').max(MAX_CMD_ARGS, `cmd must have at most ${MAX_CMD_ARGS} arguments`);

const execBodySchema = z
  .object({
    cmd: cmdSchema,
    role: z.string().regex(NAME, 'role is not a valid role name').optional(),
    accessory: z.string().regex(NAME, 'accessory is not a valid accessory name').optional(),
    reuse: z.boolean().optional(),
  })
  .strict();

type ExecBody = z.infer<typeof execBodySchema>;

function zodMessage(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'invalid request';
  const path = issue.path.join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

export function parseExecBody(body: unknown): ExecBody {
  const r = execBodySchema.safeParse(body);
  if (!r.success) throw new UserError(`invalid exec request: ${zodMessage(r.error)}`, 'send {"cmd": ["program", "arg", ...], "role"?: "web" or "accessory"?: "db", "reuse"?: true}');
  return r.data;
}

/** `cmd` of the WebSocket route: a JSON array in the query string. */
export function parseCmdParam(value: string | undefined): string[] {
  if (value === undefined || value === '') throw new UserError('cmd is required: a JSON array of strings');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new UserError('cmd must be a JSON array of strings');
  }
  const r = cmdSchema.safeParse(parsed);
  if (!r.success) throw new UserError(`invalid cmd: ${zodMessage(r.error)}`);
  return r.data;
}
