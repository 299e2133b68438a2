// Berth's `cron:` and `notify:` keys (also under x-berth:, see schema-berth.ts):
// jobs the agent runs in fresh containers of a role, and where it reports a
// failed run.
//
//   cron:
//     reports:
//       schedule: "0 3 * * *"         # 5 or 6 fields, or @daily-style
//       command: bin/rails reports:send  # split like a role's cmd, or an argv list
//       role: web                      # default: the primary role
//       timezone: Europe/Berlin        # default: UTC
//       timeout: 30m                   # default: min(1h, the shortest gap between runs)
//       concurrency: forbid            # forbid | allow | replace
//       retries: 2                     # 0..10, retry_backoff apart (default 10s), doubling
//       hosts: one                     # one (the role's first host) | all
//   notify:                            # a URL or SECRET_NAME, or this map
//     url: NOTIFY_URL                  # an http(s) URL, or the NAME of a secret holding it
//     secret: NOTIFY_HMAC_KEY          # NAME of a secret: the HMAC key of X-Berth-Signature
//     timeout: 5s                      # 1..60 seconds

import { isTimeZone, parseCronSchedule, DEFAULT_TIME_ZONE } from '../../shared/cron-schedule.js';
import { CRON_CONCURRENCY, CRON_HOSTS, CRON_RETRIES_MAX, CRON_TIMEOUT_MAX_S, NOTIFY_TIMEOUT_MAX_S, notifyUrlProblem, timeoutProblem, type CronConcurrency } from '../../shared/manifest-cron.js';
import { MAX_CRON_JOBS } from '../../shared/manifest.js';
import { NAME, NAME_RULE } from '../../shared/manifest-names.js';
import { Findings, isPlainObject } from './issues.js';
import { parseDuration } from './schema-berth.js';
import { ENV_NAME } from './schema-env.js';
import { checkCmd, checkText } from './schema-values.js';
import type { CronJobConfig, NotifyConfig, RoleConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const JOB_KEYS = ['schedule', 'command', 'role', 'timezone', 'timeout', 'concurrency', 'retries', 'retry_backoff', 'hosts'];
const DEFAULT_TIMEOUT_S = 3600;
const DEFAULT_BACKOFF_S = 10;
const RETRY_BACKOFF_MAX_S = 3600;
const DEFAULT_NOTIFY_TIMEOUT_S = 5;
const ARGV_MAX_WORDS = 64;
const ARGV_MAX_CHARS = 4096;
const DURATION = 'should be a duration: seconds (300) or 90s, 5m, 1h, 1d';

export function checkDuration(raw: unknown, path: KeyPath, findings: Findings, min: number, max: number): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const seconds = parseDuration(raw);
  if (seconds === undefined) findings.error(path, DURATION);
  else if (seconds < min || seconds > max) findings.error(path, `should be between ${min}s and ${max}s`);
  else return seconds;
  return undefined;
}

/** A command line split like a role's cmd (shell operators outside quotes refused), or an argv list. */
export function checkCommand(raw: unknown, path: KeyPath, findings: Findings): string[] | undefined {
  if (raw === undefined || raw === null) {
    findings.error(path, 'is required (a command line like a role\'s cmd, or a list of words)');
    return undefined;
  }
  let words: string[] | undefined;
  if (Array.isArray(raw)) {
    if (raw.length === 0 || raw.some((w) => typeof w !== 'string')) findings.error(path, 'should be a non-empty list of strings (the argv, run without a shell)');
    else words = raw as string[];
  } else {
    words = checkCmd(raw, path, findings);
  }
  if (words === undefined) return undefined;
  if (words.length > ARGV_MAX_WORDS) findings.error(path, `should have at most ${ARGV_MAX_WORDS} words`);
  else if (words.some((w) => w.length > ARGV_MAX_CHARS)) findings.error(path, `has a word longer than ${ARGV_MAX_CHARS} characters`);
  else return [...words];
  return undefined;
}

function checkChoice<T extends string>(raw: unknown, path: KeyPath, findings: Findings, choices: readonly T[], fallback: T): T {
  if (raw === undefined || raw === null) return fallback;
  if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as T;
  findings.error(path, `should be one of ${choices.join(', ')}`);
  return fallback;
}

function checkRole(raw: unknown, path: KeyPath, findings: Findings, roles: RoleConfig[], primaryRole: string): string | undefined {
  const name = raw === undefined || raw === null ? primaryRole : checkText(raw, path, findings, 63);
  if (name === undefined) return undefined;
  const role = roles.find((r) => r.name === name);
  const given = raw === undefined || raw === null ? ` (the primary role, the default)` : '';
  if (!role) findings.error(path, `${JSON.stringify(name.slice(0, 63))}${given} is not a role in servers (roles: ${roles.map((r) => r.name).join(', ') || 'none'})`);
  else if (role.hosts.length === 0) findings.error(path, `role ${name}${given} has no hosts, so the job would run nowhere`);
  else return name;
  return undefined;
}

function checkJob(raw: unknown, path: KeyPath, findings: Findings, roles: RoleConfig[], primaryRole: string): CronJobConfig | undefined {
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map with schedule and command (and role, timezone, timeout, concurrency, retries, retry_backoff, hosts)');
    return undefined;
  }
  const before = findings.issues.length;
  for (const key of Object.keys(raw)) if (!JOB_KEYS.includes(key)) findings.error([...path, key], 'unknown key');
  let timezone = DEFAULT_TIME_ZONE;
  if (raw.timezone !== undefined && raw.timezone !== null) {
    if (typeof raw.timezone === 'string' && isTimeZone(raw.timezone)) timezone = raw.timezone;
    else findings.error([...path, 'timezone'], `${JSON.stringify(String(raw.timezone).slice(0, 64))} is not an IANA time zone name (like UTC or Europe/Berlin)`);
  }
  let minGapMs: number | undefined;
  if (raw.schedule === undefined || raw.schedule === null) findings.error([...path, 'schedule'], 'is required (5 or 6 cron fields, or @daily-style)');
  else {
    try {
      // Gaps differ by zone only around DST changes; a bad zone was reported above.
      minGapMs = parseCronSchedule(raw.schedule, timezone).minGapMs;
    } catch (e) {
      findings.error([...path, 'schedule'], e instanceof Error ? e.message : 'is not a cron schedule');
    }
  }
  const command = checkCommand(raw.command, [...path, 'command'], findings);
  const role = checkRole(raw.role, [...path, 'role'], findings, roles, primaryRole);
  const concurrency = checkChoice<CronConcurrency>(raw.concurrency, [...path, 'concurrency'], findings, CRON_CONCURRENCY, 'forbid');
  const hosts = checkChoice(raw.hosts, [...path, 'hosts'], findings, CRON_HOSTS, 'one');
  let retries = 0;
  if (raw.retries !== undefined && raw.retries !== null) {
    if (typeof raw.retries === 'number' && Number.isInteger(raw.retries) && raw.retries >= 0 && raw.retries <= CRON_RETRIES_MAX) retries = raw.retries;
    else findings.error([...path, 'retries'], `should be a whole number from 0 to ${CRON_RETRIES_MAX}`);
  }
  const backoff = checkDuration(raw.retry_backoff, [...path, 'retry_backoff'], findings, 1, RETRY_BACKOFF_MAX_S) ?? DEFAULT_BACKOFF_S;
  let timeout = checkDuration(raw.timeout, [...path, 'timeout'], findings, 1, CRON_TIMEOUT_MAX_S);
  if (minGapMs !== undefined) {
    if (timeout === undefined) timeout = Math.max(1, Math.min(DEFAULT_TIMEOUT_S, Math.floor(minGapMs / 1000)));
    const problem = timeoutProblem(timeout, concurrency, minGapMs);
    if (problem) findings.error([...path, 'timeout'], problem);
  }
  if (findings.issues.length > before || command === undefined || role === undefined || timeout === undefined) return undefined;
  return { schedule: String(raw.schedule), timezone, command, role, timeout, concurrency, retries, retry_backoff: backoff, hosts };
}

/** The `cron:` section found at `path`: named jobs, each checked against the roles that exist. */
export function checkCron(raw: unknown, path: KeyPath, findings: Findings, roles: RoleConfig[], primaryRole: string): Record<string, CronJobConfig> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map of job names to jobs (schedule, command, …)');
    return undefined;
  }
  const names = Object.keys(raw);
  if (names.length > MAX_CRON_JOBS) {
    findings.error(path, `has ${names.length} jobs; at most ${MAX_CRON_JOBS} are allowed`);
    return undefined;
  }
  const jobs: Record<string, CronJobConfig> = {};
  for (const name of names) {
    if (!NAME.test(name)) {
      findings.error([...path, name], `job names ${NAME_RULE}`);
      continue;
    }
    const job = checkJob(raw[name], [...path, name], findings, roles, primaryRole);
    if (job) jobs[name] = job;
  }
  return jobs;
}

/** A secret's NAME: env-name grammar, and no URL (a `://` means a literal was meant). */
function isSecretName(value: string): boolean {
  return ENV_NAME.test(value) && !value.includes('://');
}

function checkNotifyUrl(raw: unknown, path: KeyPath, findings: Findings): NotifyConfig['url'] | undefined {
  if (raw === undefined || raw === null) {
    findings.error(path, 'is required (an http(s) URL, or the NAME of a secret in .kamal/secrets holding it)');
    return undefined;
  }
  if (typeof raw !== 'string') {
    findings.error(path, 'should be an http(s) URL, or the NAME of a secret in .kamal/secrets holding it');
    return undefined;
  }
  if (raw.includes('://')) {
    const problem = notifyUrlProblem(raw);
    if (problem) findings.error(path, problem);
    return problem ? undefined : { literal: raw };
  }
  if (isSecretName(raw)) return { secret: raw };
  findings.error(path, 'should be an http(s) URL, or the NAME of a secret in .kamal/secrets holding it (letters, digits and _)');
  return undefined;
}

/** The `notify:` section found at `path`: a URL (or SECRET_NAME) alone, or a map with url, secret and timeout. */
export function checkNotify(raw: unknown, path: KeyPath, findings: Findings): NotifyConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const map = typeof raw === 'string' ? { url: raw } : raw;
  if (!isPlainObject(map)) {
    findings.error(path, 'should be a URL, the NAME of a secret holding one, or a map with url, secret and timeout');
    return undefined;
  }
  const before = findings.issues.length;
  for (const key of Object.keys(map)) if (!['url', 'secret', 'timeout'].includes(key)) findings.error([...path, key], 'unknown key');
  const urlPath = typeof raw === 'string' ? path : [...path, 'url'];
  const url = checkNotifyUrl(map.url, urlPath, findings);
  let secret: string | undefined;
  if (map.secret !== undefined && map.secret !== null) {
    if (typeof map.secret === 'string' && isSecretName(map.secret)) secret = map.secret;
    else findings.error([...path, 'secret'], 'should be the NAME of a secret in .kamal/secrets (letters, digits and _), the HMAC key');
  }
  const timeout = checkDuration(map.timeout, [...path, 'timeout'], findings, 1, NOTIFY_TIMEOUT_MAX_S) ?? DEFAULT_NOTIFY_TIMEOUT_S;
  if (findings.issues.length > before || url === undefined) return undefined;
  if (secret === undefined) {
    findings.warn(path, 'has no secret, so its POSTs are unsigned and receivers cannot tell them from anyone else\'s; add secret: SECRET_NAME (an HMAC key in .kamal/secrets)');
  }
  return { url, ...(secret !== undefined ? { secret } : {}), timeout };
}
