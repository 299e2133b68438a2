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
  /**
   * The shortest time between two runs, in ms, as far as it is shorter than a
   * day: from the times of day the schedule fires (the same on every day it
   * fires), counting the step over midnight. Exact when two days in a row fire;
   * otherwise a lower bound (the rule it serves then errs on the safe side).
   * DST is not counted. Computed from the fields, not by asking for dates: each
   * next date costs cron a loop of date arithmetic (~8 ms for a daily job).
   */
  minGapMs: number;
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
  const key = `${timezone}\u0000${source}`;
  let read = readCache.get(key);
  if (!read) {
    read = readSchedule(source, timezone, trimmed);
    if (readCache.size >= READ_CACHE_MAX) readCache.clear();
    readCache.set(key, read);
  }
  const { time, minGapMs } = read;
  return { text, timezone, next: (afterMs) => time.getNextDateFrom(new Date(afterMs), timezone).toMillis(), minGapMs };
}

// The same schedule is read for the manifest check, the agent's policy, the
// scheduler and status: once per schedule and zone (a CronTime keeps no state
// between next dates).
const READ_CACHE_MAX = 512;
const readCache = new Map<string, { time: CronTime; minGapMs: number }>();

function readSchedule(source: string, timezone: string, written: string): { time: CronTime; minGapMs: number } {
  let time: CronTime;
  try {
    time = new CronTime(source, timezone);
    const fields = time.toJSON();
    // Only a day of month some months lack, in those months only, can never come
    // (31 Feb): asked of cron only then, since each next date is a costly loop.
    if (mayNeverFire(fields)) time.getNextDateFrom(new Date(), timezone);
    return { time, minGapMs: shortestGapS(fields) * 1000 };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/No execution date was found/.test(message)) throw new UserError(`${JSON.stringify(written)} never fires (no date matches in the next 8 years)`);
    throw new UserError(`${JSON.stringify(written)} is not a valid schedule: ${message.split('\n')[0]?.trim()}`);
  }
}

function mayNeverFire(fields: string[]): boolean {
  const days = fields[3];
  const months = fields[4];
  if (days === undefined || days === '*' || months === undefined || months === '*') return false;
  return fieldValues(days, 32).every((d) => d > 28);
}

/** `*` or a list of values (CronTime's toJSON of one field) → the values. */
function fieldValues(field: string | undefined, count: number): number[] {
  if (field === undefined || field === '*') return Array.from({ length: count }, (_, i) => i);
  return [...new Set(field.split(',').map(Number))].filter((n) => Number.isInteger(n) && n >= 0 && n < count).sort((a, b) => a - b);
}

/** Seconds between the two closest times of day the fields fire at, the step over midnight included. */
function shortestGapS(fields: string[]): number {
  const seconds = fieldValues(fields[0], 60);
  const minutes = fieldValues(fields[1], 60);
  const hours = fieldValues(fields[2], 24);
  let first = -1;
  let previous = -1;
  let shortest = 86_400;
  // At most 86,400 times of day, in order, without building the list.
  for (const h of hours) {
    for (const m of minutes) {
      for (const sec of seconds) {
        const t = h * 3600 + m * 60 + sec;
        if (first === -1) first = t;
        else shortest = Math.min(shortest, t - previous);
        previous = t;
        if (shortest === 1) return 1;
      }
    }
  }
  return first === -1 ? 86_400 : Math.min(shortest, 86_400 - previous + first);
}
