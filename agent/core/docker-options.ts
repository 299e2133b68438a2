// PURE: a role's `options:` (docker run options in Kamal's form: long name
// without dashes, a list repeats the option) turned into the Docker API fields
// `docker run` would send. Values are parsed the way the docker CLI parses
// them (sizes in binary units, cpus as a decimal, durations like 30s). Which
// options may be used at all is agent/core/guardrails.ts's business; this file
// only knows how to translate the ones it supports.
import { UserError } from '../../shared/errors.js';
import { MountSyntaxError, parseMount, parseNetworkAlias, parsePublishList, parseSecurityOpt } from '../../shared/docker-mounts.js';

export type OptionValue = string | number | boolean | string[];

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/** HostConfig fields an option can set. */
export interface HostOptionFields {
  Memory?: number;
  MemoryReservation?: number;
  MemorySwap?: number;
  MemorySwappiness?: number;
  NanoCpus?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpuShares?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  ShmSize?: number;
  Ulimits?: Ulimit[];
  ExtraHosts?: string[];
  CapAdd?: string[];
  CapDrop?: string[];
  Init?: boolean;
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  GroupAdd?: string[];
  OomScoreAdj?: number;
  PidsLimit?: number;
  ReadonlyRootfs?: boolean;
  Sysctls?: Record<string, string>;
  Tmpfs?: Record<string, string>;
  SecurityOpt?: string[];
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
}

export interface Healthcheck {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

/** Container Config fields an option can set. */
export interface ConfigOptionFields {
  User?: string;
  WorkingDir?: string;
  Entrypoint?: string[];
  Hostname?: string;
  StopSignal?: string;
  StopTimeout?: number;
  ExposedPorts?: Record<string, Record<string, never>>;
  Healthcheck?: Healthcheck;
}

export interface TranslatedOptions {
  host: HostOptionFields;
  config: ConfigOptionFields;
  /** Extra DNS names on the agent's network (network-alias). */
  aliases?: string[];
}

type Translate = (value: OptionValue, out: TranslatedOptions, bad: (why: string) => UserError) => void;

const SIZE = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Docker's RAMInBytes: `512m`, `2GB`, `1.5g`, or a number of bytes. */
export function parseBytes(value: OptionValue): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = SIZE.exec(value.trim());
  if (!m || m[1] === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? NaN));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
const NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration subset docker uses for health options: `30s`, `1m30s`, `500ms`; in nanoseconds. */
export function parseDuration(value: OptionValue): number | undefined {
  if (typeof value !== 'string' || !/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(DURATION_PART)) total += Number(m[1]) * (NS[m[2] ?? ''] ?? NaN);
  total = Math.round(total);
  return Number.isSafeInteger(total) ? total : undefined;
}

function int(value: OptionValue, min: number, max: number): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d{1,16}$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function bool(value: OptionValue): boolean | undefined {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  return undefined;
}

function text(value: OptionValue): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

function list(value: OptionValue): string[] | undefined {
  if (Array.isArray(value)) return value;
  const t = text(value);
  return t === undefined ? undefined : [t];
}

/** `SYS_NICE`, `sys_nice`, `CAP_SYS_NICE` all name SYS_NICE, as in Docker. */
export function capabilityName(raw: string): string {
  return raw.trim().toUpperCase().replace(/^CAP_/, '');
}

/** An option parsed by shared/docker-mounts.ts; its MountSyntaxError becomes the role's UserError. */
function parsed<T>(parse: (values: string[]) => T, set: (out: TranslatedOptions, value: T) => void): Translate {
  return (v, out, bad) => {
    const values = list(v);
    if (!values) throw bad('must be a string (or a list of them)');
    try {
      set(out, parse(values));
    } catch (e) {
      if (e instanceof MountSyntaxError) throw bad(e.message);
      throw e;
    }
  };
}

const size = (field: 'Memory' | 'MemoryReservation' | 'ShmSize', min: number): Translate => (v, out, bad) => {
  const n = parseBytes(v);
  if (n === undefined || n < min) throw bad(`must be a size like 512m or 2g${min > 0 ? ` (at least ${min} bytes)` : ''}`);
  out.host[field] = n;
};
const integer = (set: (out: TranslatedOptions, n: number) => void, min: number, max: number): Translate => (v, out, bad) => {
  const n = int(v, min, max);
  if (n === undefined) throw bad(`must be an integer from ${min} to ${max}`);
  set(out, n);
};
const flag = (set: (out: TranslatedOptions, b: boolean) => void): Translate => (v, out, bad) => {
  const b = bool(v);
  if (b === undefined) throw bad('must be true or false');
  set(out, b);
};
const words = (pattern: RegExp, rule: string, set: (out: TranslatedOptions, values: string[]) => void): Translate => (v, out, bad) => {
  const values = list(v);
  if (!values || values.some((x) => !pattern.test(x))) throw bad(`must be ${rule} (or a list of them)`);
  set(out, values);
};
const word = (pattern: RegExp, rule: string, set: (out: TranslatedOptions, value: string) => void): Translate => (v, out, bad) => {
  const t = text(v);
  if (t === undefined || !pattern.test(t)) throw bad(`must be ${rule}`);
  set(out, t);
};
const health = (field: 'Interval' | 'Timeout' | 'StartPeriod' | 'StartInterval'): Translate => (v, out, bad) => {
  const ns = parseDuration(v);
  if (ns === undefined) throw bad('must be a duration like 30s, 1m30s or 500ms');
  out.config.Healthcheck = { ...out.config.Healthcheck, [field]: ns };
};

const CAP = /^(CAP_)?[A-Za-z_]{2,32}$/;
const HOST_ENTRY = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})[:=](?:host-gateway|[0-9A-Fa-f:.]{2,45})$/;
const ULIMIT = /^([a-z]{3,12})=(-?\d{1,19})(?::(-?\d{1,19}))?$/;
const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);
const ABSOLUTE = /^\/[^\0]*$/;

/** The options this agent translates, by docker run's long name. */
const TRANSLATORS: Readonly<Record<string, Translate>> = {
  memory: size('Memory', 6 * 1024 * 1024),
  'memory-reservation': size('MemoryReservation', 0),
  'memory-swap': (v, out, bad) => {
    const n = v === -1 || v === '-1' ? -1 : parseBytes(v);
    if (n === undefined) throw bad('must be a size like 1g, or -1 for unlimited swap');
    out.host.MemorySwap = n;
  },
  'memory-swappiness': integer((o, n) => (o.host.MemorySwappiness = n), 0, 100),
  'shm-size': size('ShmSize', 1),
  cpus: (v, out, bad) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,4}(\.\d{1,9})?$/.test(v.trim()) ? Number(v) : NaN;
    if (!(Number.isFinite(n) && n > 0 && n <= 4096)) throw bad('must be a number of CPUs like 2 or 0.5');
    out.host.NanoCpus = Math.round(n * 1e9);
  },
  'cpu-period': integer((o, n) => (o.host.CpuPeriod = n), 1000, 1_000_000),
  'cpu-quota': integer((o, n) => (o.host.CpuQuota = n), -1, 1_000_000_000),
  'cpu-shares': integer((o, n) => (o.host.CpuShares = n), 2, 262_144),
  'cpuset-cpus': word(/^\d{1,4}([-,]\d{1,4}){0,63}$/, 'a CPU list like 0-3 or 0,2', (o, t) => (o.host.CpusetCpus = t)),
  'cpuset-mems': word(/^\d{1,4}([-,]\d{1,4}){0,63}$/, 'a memory node list like 0-1', (o, t) => (o.host.CpusetMems = t)),
  'pids-limit': integer((o, n) => (o.host.PidsLimit = n), -1, 4_194_304),
  'oom-score-adj': integer((o, n) => (o.host.OomScoreAdj = n), -1000, 1000),
  ulimit: (v, out, bad) => {
    const values = list(v);
    const parsed = values?.map((u) => ULIMIT.exec(u));
    if (!values || !parsed || parsed.some((m) => !m || !ULIMIT_NAMES.has(m[1] ?? ''))) {
      throw bad(`must be NAME=SOFT[:HARD] with NAME one of ${[...ULIMIT_NAMES].join(', ')}`);
    }
    out.host.Ulimits = parsed.map((m) => {
      const soft = Number(m?.[2]);
      return { Name: m?.[1] ?? '', Soft: soft, Hard: m?.[3] === undefined ? soft : Number(m[3]) };
    });
  },
  'add-host': words(HOST_ENTRY, 'HOST:IP (or HOST:host-gateway)', (o, xs) => (o.host.ExtraHosts = xs.map((x) => x.replace('=', ':')))),
  'cap-add': words(CAP, 'a capability name like SYS_NICE', (o, xs) => (o.host.CapAdd = xs.map(capabilityName))),
  'cap-drop': words(CAP, 'a capability name like NET_RAW, or ALL', (o, xs) => (o.host.CapDrop = xs.map(capabilityName))),
  init: flag((o, b) => (o.host.Init = b)),
  'read-only': flag((o, b) => (o.host.ReadonlyRootfs = b)),
  dns: words(/^[0-9A-Fa-f:.]{2,45}$/, 'an IP address', (o, xs) => (o.host.Dns = xs)),
  'dns-option': words(/^[A-Za-z0-9_.:-]{1,64}$/, 'a resolver option like ndots:2', (o, xs) => (o.host.DnsOptions = xs)),
  'dns-search': words(/^[A-Za-z0-9.-]{1,253}$/, 'a domain', (o, xs) => (o.host.DnsSearch = xs)),
  'group-add': words(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/, 'a group name or id', (o, xs) => (o.host.GroupAdd = xs)),
  sysctl: (v, out, bad) => {
    const values = list(v);
    if (!values || values.some((x) => !/^[a-z0-9_.-]{1,128}=[^\0]{0,256}$/.test(x))) throw bad('must be NAME=VALUE (or a list of them)');
    out.host.Sysctls = Object.fromEntries(values.map((x) => [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)]));
  },
  tmpfs: (v, out, bad) => {
    const values = list(v);
    if (!values || values.some((x) => !/^\/[^:\0]{0,255}(:[A-Za-z0-9=,._-]{0,255})?$/.test(x))) throw bad('must be /PATH[:OPTIONS] (or a list of them)');
    // Merged: mount's type=tmpfs entries (translated before) land here too.
    out.host.Tmpfs = { ...out.host.Tmpfs, ...Object.fromEntries(values.map((x) => {
      const colon = x.indexOf(':');
      return colon === -1 ? [x, ''] : [x.slice(0, colon), x.slice(colon + 1)];
    })) };
  },
  user: word(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$/, 'USER[:GROUP] (names or ids)', (o, t) => (o.config.User = t)),
  workdir: word(ABSOLUTE, 'an absolute path', (o, t) => (o.config.WorkingDir = t)),
  hostname: word(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/, 'a host name', (o, t) => (o.config.Hostname = t)),
  entrypoint: (v, out, bad) => {
    const t = text(v);
    if (t === undefined) throw bad('must be a string (the executable; use cmd for its arguments)');
    out.config.Entrypoint = [t];
  },
  'stop-signal': word(/^(SIG)?[A-Z0-9+-]{1,16}$|^\d{1,2}$/, 'a signal like SIGTERM', (o, t) => (o.config.StopSignal = t)),
  'stop-timeout': integer((o, n) => (o.config.StopTimeout = n), -1, 3600),
  expose: words(/^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/, 'a port like 8080 or 8080/udp', (o, xs) => {
    o.config.ExposedPorts = { ...o.config.ExposedPorts, ...Object.fromEntries(xs.map((x) => [x.includes('/') ? x : `${x}/tcp`, {}])) };
  }),
  // Judged by the guardrails (the agent's --allow-publish); here only made into Docker's form.
  publish: parsed(parsePublishList, (out, ports) => {
    out.host.PortBindings = {};
    for (const p of ports) {
      const key = `${p.containerPort}/${p.protocol}`;
      out.host.PortBindings[key] = [...(out.host.PortBindings[key] ?? []), { HostIp: p.hostIp, HostPort: String(p.hostPort) }];
      out.config.ExposedPorts = { ...out.config.ExposedPorts, [key]: {} };
    }
  }),
  'security-opt': parsed((xs) => [...new Set(xs.map(parseSecurityOpt))], (out, opts) => (out.host.SecurityOpt = opts)),
  'network-alias': parsed((xs) => [...new Set(xs.map(parseNetworkAlias))], (out, names) => (out.aliases = names)),
  // Mounted with the role's volumes (core/option-mounts.ts); only tmpfs mounts are HostConfig fields.
  volume: () => undefined,
  mount: parsed((xs) => xs.map(parseMount), (out, mounts) => {
    for (const m of mounts) if (m.type === 'tmpfs') out.host.Tmpfs = { ...out.host.Tmpfs, [m.target]: m.options };
  }),
  'health-cmd': (v, out, bad) => {
    const t = text(v);
    if (t === undefined || t === '') throw bad('must be a shell command');
    out.config.Healthcheck = { ...out.config.Healthcheck, Test: ['CMD-SHELL', t] };
  },
  'health-interval': health('Interval'),
  'health-timeout': health('Timeout'),
  'health-start-period': health('StartPeriod'),
  'health-start-interval': health('StartInterval'),
  'health-retries': integer((o, n) => (o.config.Healthcheck = { ...o.config.Healthcheck, Retries: n }), 0, 1000),
  'no-healthcheck': flag((o, b) => {
    if (b) o.config.Healthcheck = { Test: ['NONE'] };
  }),
};

/** Options that take one value: a list would be silently cut by docker run, so it is refused. */
const REPEATABLE = new Set([
  'ulimit', 'add-host', 'cap-add', 'cap-drop', 'dns', 'dns-option', 'dns-search', 'group-add', 'sysctl', 'tmpfs', 'expose',
  'publish', 'security-opt', 'network-alias', 'volume', 'mount',
]);

/**
 * Translates `options`; throws UserError naming the role and the option for a
 * value docker run would refuse. Unknown names throw too: the guardrails
 * refuse them first with a better message.
 */
export function translateOptions(role: string, options: Record<string, OptionValue> | undefined): TranslatedOptions {
  const out: TranslatedOptions = { host: {}, config: {} };
  for (const [name, value] of Object.entries(options ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const bad = (why: string) => new UserError(`role ${role}: options.${name} ${why}`);
    const translate = Object.hasOwn(TRANSLATORS, name) ? TRANSLATORS[name] : undefined;
    if (!translate) throw bad('is not a docker run option this agent passes on');
    if (Array.isArray(value) && !REPEATABLE.has(name)) throw bad('takes one value, not a list');
    translate(value, out, bad);
  }
  // `--health-cmd` with `--no-healthcheck` is refused by docker run too.
  if (out.config.Healthcheck?.Test?.[0] === 'NONE' && Object.keys(options ?? {}).some((k) => k.startsWith('health-'))) {
    throw new UserError(`role ${role}: options.no-healthcheck cannot be combined with health-* options`);
  }
  return out;
}
