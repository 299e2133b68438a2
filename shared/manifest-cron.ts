// The cron part of a release manifest (feature cron.v1): named jobs the agent
// runs on a schedule as fresh containers of the release's image, and where it
// reports failed runs. The CLI decides which hosts carry a job (`hosts: one`
// is the role's first host only), so an agent runs every job its manifest has.
import { z } from 'zod';
import { isTimeZone, parseCronSchedule, DEFAULT_TIME_ZONE, SCHEDULE_MAX_CHARS } from './cron-schedule.js';
import { UserError } from './errors.js';
import { JWE_COMPACT, NAME, NAME_RULE } from './manifest-names.js';

export const CRON_CONCURRENCY = ['forbid', 'allow', 'replace'] as const;
export type CronConcurrency = (typeof CRON_CONCURRENCY)[number];
export const CRON_HOSTS = ['one', 'all'] as const;
export const CRON_TIMEOUT_MAX_S = 86_400;
export const CRON_RETRIES_MAX = 10;
export const NOTIFY_TIMEOUT_MAX_S = 60;

const sealed = z.string().regex(JWE_COMPACT, 'must be a sealed value (JWE compact, ECDH-ES)');

export const cronJobSchema = z
  .strictObject({
    schedule: z.string().max(SCHEDULE_MAX_CHARS),
    timezone: z.string().max(64).default(DEFAULT_TIME_ZONE),
    /** The argv run in a new container of the role (no shell: the CLI split it as it splits `cmd`). */
    command: z.array(z.string().max(4096)).min(1).max(64),
    role: z.string().regex(NAME, NAME_RULE),
    /** Seconds; the container is killed after it. */
    timeout: z.number().int().min(1).max(CRON_TIMEOUT_MAX_S),
    concurrency: z.enum(CRON_CONCURRENCY).default('forbid'),
    /** Further attempts after a failed run, RETRY_BACKOFF seconds apart, doubling. */
    retries: z.number().int().min(0).max(CRON_RETRIES_MAX).default(0),
    retry_backoff: z.number().int().min(1).max(3600).default(10),
    /** Which hosts the operator asked for; the CLI already applied it (informational here). */
    hosts: z.enum(CRON_HOSTS).default('one'),
  })
  .superRefine((job, ctx) => {
    if (!isTimeZone(job.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `${JSON.stringify(job.timezone)} is not an IANA time zone name (like UTC or Europe/Berlin)` });
      return;
    }
    let minGapMs: number;
    try {
      minGapMs = parseCronSchedule(job.schedule, job.timezone).minGapMs;
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['schedule'], message: e instanceof UserError ? e.message : 'is not a cron schedule' });
      return;
    }
    const problem = timeoutProblem(job.timeout, job.concurrency, minGapMs);
    if (problem) ctx.addIssue({ code: 'custom', path: ['timeout'], message: problem });
  });

/** Under `forbid` a run that may outlast the gap to the next one would skip it: refused. */
export function timeoutProblem(timeoutS: number, concurrency: CronConcurrency, minGapMs: number): string | undefined {
  if (concurrency !== 'forbid' || timeoutS * 1000 <= minGapMs) return undefined;
  return `${timeoutS}s is longer than the ${formatSeconds(minGapMs / 1000)} between runs; under concurrency forbid a run that long skips the next one (shorten timeout, or set concurrency: allow or replace)`;
}

export function formatSeconds(s: number): string {
  if (s >= 86_400 && s % 86_400 === 0) return `${s / 86_400}d`;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${Math.round(s * 1000) / 1000}s`;
}

export const notifySchema = z.strictObject({
  /** The http(s) URL, sealed: hook URLs often carry their own token (Slack's do). */
  url: sealed,
  /** HMAC-SHA256 key for the X-Berth-Signature header, sealed; absent, the POST is unsigned. */
  secret: sealed.optional(),
  /** Seconds the agent waits for the hook's answer. */
  timeout: z.number().int().min(1).max(NOTIFY_TIMEOUT_MAX_S).default(5),
});

export type CronJobSpec = z.output<typeof cronJobSchema>;
export type NotifySpec = z.output<typeof notifySchema>;

/** Whether `text` is a URL the agent may POST a notification to: http(s), no credentials in it, at most 2048 characters. */
export function notifyUrlProblem(text: string): string | undefined {
  if (text.length > 2048) return 'is longer than 2048 characters';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http:// or https:// URL';
  if (url.username !== '' || url.password !== '') return 'must not carry a user name or password (put a token in the path or use notify secret)';
  return undefined;
}
