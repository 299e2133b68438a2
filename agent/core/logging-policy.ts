// PURE: which logging drivers and options a release may set. The driver runs
// inside dockerd, as root in the host's network namespace: `syslog` with
// `tcp://...` makes dockerd connect where the container could not, and a
// driver name is a plugin name (`../` once activated a plugin at any unix
// socket). So drivers are an allow-list, each with the option keys it may
// take, and the sizes that decide how much disk a container's log may fill
// are capped by the agent's owner.
import { UserError } from '../../shared/errors.js';

export interface LoggingPolicy {
  /** Driver name -> the option keys a release may set for it. */
  drivers: Readonly<Record<string, readonly string[]>>;
  /** Cap of `max-size`, in bytes. */
  maxSizeBytes: number;
  /** Cap of `max-file`. */
  maxFiles: number;
}

/** Keys every driver Docker ships understands; they choose what goes into a log entry. */
const ENTRY_KEYS = ['tag', 'labels', 'labels-regex', 'env', 'env-regex'] as const;

/** The drivers that write on this host only, and the options Docker accepts for each. */
export const DEFAULT_LOG_DRIVERS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'json-file': ['max-size', 'max-file', 'compress', ...ENTRY_KEYS],
  local: ['max-size', 'max-file', 'compress'],
  journald: [...ENTRY_KEYS],
  none: [],
});

export const DEFAULT_LOG_MAX_SIZE = '100m';
export const DEFAULT_LOG_MAX_FILES = 10;

export const ALLOW_LOG_DRIVER_FLAG = 'berth-agent run --allow-log-driver';
const ALLOW_LOG_OPT_FLAG = 'berth-agent run --allow-log-opt';

/** Docker plugin names: `name`, `repo/name`, `host/repo/name:tag`; never `..` or a leading `/`. */
const DRIVER_NAME = /^[a-z0-9][a-z0-9_.-]*(\/[a-z0-9][a-z0-9_.-]*)*(:[A-Za-z0-9_.-]{1,128})?$/;
const OPTION_KEY = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

export function isLogDriverName(name: string): boolean {
  return name.length <= 128 && DRIVER_NAME.test(name) && !name.split(/[/:]/).includes('..');
}

export function isLogOptionKey(key: string): boolean {
  return OPTION_KEY.test(key);
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * A size as Docker reads `max-size` (`10m`, `512k`, `1g`, `100MB`, binary
 * units), or undefined for anything else, fractions and -1 (unlimited) included.
 */
export function parseLogSize(value: string): number | undefined {
  const m = /^(\d{1,15}) ?([kmgt]?)i?b?$/i.exec(value);
  if (!m) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function loggingPolicy(
  o: { allowDrivers?: readonly string[]; allowOptions?: readonly string[]; maxSizeBytes?: number; maxFiles?: number } = {},
): LoggingPolicy {
  const drivers: Record<string, readonly string[]> = { ...DEFAULT_LOG_DRIVERS };
  for (const name of o.allowDrivers ?? []) {
    // The built-in drivers keep their own keys; an owner's driver gets the entry keys and the options the owner named.
    if (!Object.hasOwn(DEFAULT_LOG_DRIVERS, name)) drivers[name] = [...new Set([...ENTRY_KEYS, ...(o.allowOptions ?? [])])];
  }
  return {
    drivers,
    maxSizeBytes: o.maxSizeBytes ?? (parseLogSize(DEFAULT_LOG_MAX_SIZE) as number),
    maxFiles: o.maxFiles ?? DEFAULT_LOG_MAX_FILES,
  };
}

export function formatLogSize(bytes: number): string {
  for (const [unit, size] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

function refused(role: string, what: string, reason: string, hint: string): UserError {
  return new UserError(`role ${role}: ${what} is refused by this agent's guardrails: ${reason}`, hint, 'guardrail_refused');
}

/** Throws UserError `guardrail_refused` for a driver, option key or value the policy does not allow. */
export function checkLogging(role: string, logging: { driver: string; options?: Record<string, string> } | undefined, policy: LoggingPolicy): void {
  if (!logging) return;
  const shown = JSON.stringify(logging.driver.slice(0, 130));
  const keys = Object.hasOwn(policy.drivers, logging.driver) ? policy.drivers[logging.driver] : undefined;
  if (keys === undefined) {
    const allowed = Object.keys(policy.drivers).join(', ');
    throw refused(
      role,
      `logging driver ${shown}`,
      `the drivers allowed here are ${allowed}; others run inside dockerd, as root, with the host's network`,
      isLogDriverName(logging.driver) ? `start the agent with ${ALLOW_LOG_DRIVER_FLAG} ${logging.driver} (or BERTH_ALLOW_LOG_DRIVERS)` : 'no agent setting allows this name',
    );
  }
  const options = logging.options ?? {};
  const unknown = Object.keys(options).filter((k) => !keys.includes(k));
  if (unknown.length > 0) {
    throw refused(
      role,
      `logging option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k.slice(0, 130))).join(', ')} of driver ${shown}`,
      `the options allowed for it here are ${keys.length > 0 ? keys.join(', ') : 'none'}`,
      Object.hasOwn(DEFAULT_LOG_DRIVERS, logging.driver) ? 'Docker does not take it for this driver' : `start the agent with ${ALLOW_LOG_OPT_FLAG} KEY (or BERTH_ALLOW_LOG_OPTS)`,
    );
  }
  checkValues(role, options, policy);
}

function checkValues(role: string, options: Record<string, string>, policy: LoggingPolicy): void {
  const cap = `start the agent with a larger --log-max-size / --log-max-file (BERTH_LOG_MAX_SIZE / BERTH_LOG_MAX_FILE)`;
  const size = options['max-size'];
  if (size !== undefined) {
    const bytes = parseLogSize(size);
    if (bytes === undefined) throw new UserError(`role ${role}: logging option max-size ${JSON.stringify(size.slice(0, 40))} is not a size (like 10m or 512k)`);
    if (bytes > policy.maxSizeBytes) {
      throw refused(role, `logging option max-size ${size}`, `this agent allows at most ${formatLogSize(policy.maxSizeBytes)}`, cap);
    }
  }
  const files = options['max-file'];
  if (files !== undefined) {
    if (!/^\d{1,6}$/.test(files) || Number(files) < 1) throw new UserError(`role ${role}: logging option max-file ${JSON.stringify(files.slice(0, 40))} is not a whole number from 1`);
    if (Number(files) > policy.maxFiles) throw refused(role, `logging option max-file ${files}`, `this agent allows at most ${policy.maxFiles}`, cap);
  }
  const compress = options.compress;
  if (compress !== undefined && compress !== 'true' && compress !== 'false') {
    throw new UserError(`role ${role}: logging option compress must be true or false`);
  }
}
