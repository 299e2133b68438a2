// A cron job's schedule: 5 fields (minute first), 6 fields (seconds first) or
// an `@daily`-style alias, in an IANA time zone. The only importer of `cron`
// (its CronTime computes the next date, across DST changes, in the zone); the
// CLI checks a deploy.yml and the agent a manifest with the same code.
import { CronTime } from 'cron';
import { UserError } from './errors.js';

export const SCHEDULE_MAX_CHARS = 128;
export const DEFAULT_TIME_ZONE = 'UTC';

// cron's own presets plus Vixie cron's two spellings of them.
const ALIASES: Record<string, string> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
  '@minutely': '0 * * * * *',
  '@secondly': '* * * * * *',
  '@weekdays': '0 0 0 * * 1-5',
  '@weekends': '0 0 0 * * 0,6',
};
const FIELD = /^[A-Za-z0-9*,/-]{1,64}$/;

export interface CronSchedule {
  /** As written. */
  text: string;
  timezone: string;
  /** The first time the schedule fires strictly after `afterMs` (ms since the epoch). */
  next(afterMs: number): number;
}

export interface ScheduleGaps {
  /** The shortest and the longest time between two runs, in ms, over the next `count` runs. */
  minMs: number;
  maxMs: number;
}

/** Whether `zone` is an IANA zone name this runtime knows (`UTC`, `Europe/Berlin`). */
export function isTimeZone(zone: string): boolean {
  if (typeof zone !== 'string' || zone.length === 0 || zone.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Why `text` is not a schedule, in words a deploy.yml author can act on; undefined when it is one. */
export function scheduleProblem(text: unknown, timezone: string = DEFAULT_TIME_ZONE): string | undefined {
  try {
    parseCronSchedule(text, timezone);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** Reads a schedule; throws UserError saying what is wrong with it. */
export function parseCronSchedule(text: unknown, timezone: string = DEFAULT_TIME_ZONE): CronSchedule {
  if (typeof text !== 'string') throw new UserError('should be a cron schedule string (5 or 6 fields, or @daily)');
  if (text.length > SCHEDULE_MAX_CHARS) throw new UserError(`is longer than ${SCHEDULE_MAX_CHARS} characters`);
  if (!isTimeZone(timezone)) throw new UserError(`time zone ${JSON.stringify(timezone.slice(0, 64))} is not an IANA zone name (like UTC or Europe/Berlin)`);
  const trimmed = text.trim();
  let source: string;
  if (trimmed.startsWith('@')) {
    const alias = ALIASES[trimmed.toLowerCase()];
    if (trimmed.toLowerCase() === '@reboot') throw new UserError('@reboot is not a schedule the agent keeps (it runs jobs on time, not at boot)');
    if (!alias) throw new UserError(`${JSON.stringify(trimmed)} is not a schedule alias (one of ${Object.keys(ALIASES).join(', ')})`);
    source = alias;
  } else {
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 5 && fields.length !== 6) {
      throw new UserError(`${JSON.stringify(trimmed)} has ${fields.length} field${fields.length === 1 ? '' : 's'}; a schedule has 5 (minute hour day month weekday) or 6 (second first)`);
    }
    const bad = fields.find((f) => !FIELD.test(f));
    if (bad !== undefined) throw new UserError(`${JSON.stringify(trimmed)}: field ${JSON.stringify(bad.slice(0, 64))} is not a cron field (numbers, names, *, ranges, lists, steps)`);
    source = fields.length === 5 ? `0 ${trimmed}` : trimmed;
  }
  let time: CronTime;
  try {
    time = new CronTime(source, timezone);
    time.getNextDateFrom(new Date(), timezone);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/No execution date was found/.test(message)) throw new UserError(`${JSON.stringify(trimmed)} never fires (no date matches in the next 8 years)`);
    throw new UserError(`${JSON.stringify(trimmed)} is not a valid schedule: ${message.split('\n')[0]?.trim()}`);
  }
  return {
    text,
    timezone,
    next: (afterMs) => time.getNextDateFrom(new Date(afterMs), timezone).toMillis(),
  };
}

// cron gives up looking for a date 8 years past the CURRENT time, whatever the start: gaps are sampled within 5.
const GAP_HORIZON_MS = 5 * 366 * 86_400_000;

/** The shortest and longest gap between consecutive runs over the next `count` runs from `fromMs` (at most 5 years ahead). */
export function scheduleGaps(schedule: CronSchedule, fromMs: number, count = 32): ScheduleGaps {
  let at = schedule.next(fromMs);
  let minMs = Number.POSITIVE_INFINITY;
  let maxMs = 0;
  for (let i = 0; i < count && at - fromMs < GAP_HORIZON_MS; i++) {
    let next: number;
    try {
      next = schedule.next(at);
    } catch {
      break; // the next slot is beyond what cron looks for (a rare date): the gaps seen so far stand
    }
    minMs = Math.min(minMs, next - at);
    maxMs = Math.max(maxMs, next - at);
    at = next;
  }
  // One slot only within the horizon: its distance is the gap as far as anyone will wait.
  if (maxMs === 0) return { minMs: GAP_HORIZON_MS, maxMs: GAP_HORIZON_MS };
  return { minMs, maxMs };
}
