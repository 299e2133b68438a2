// The only place the agent reads its environment: flags win over env, env over
// defaults (docs/internals.md "Agent config"). Everything else gets an AgentConfig.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { DEPLOY_STATES, type DeployState } from '../shared/api-types.js';
import { ConfigError } from '../shared/errors.js';
import { DEFAULT_BACKUP_MIN_INTERVAL_S } from './core/backups/policy.js';
import { DEFAULT_CRON_POLICY, type CronPolicy } from './core/cron/policy.js';
import { DEFAULT_ALLOW_BINDS, PROTECTED_PATHS, guardrailPolicy, type GuardrailPolicy } from './core/guardrails.js';
import { capabilityName } from './core/docker-options.js';
import { parsePublishAllowance, type PublishAllowance } from './core/publish-policy.js';
import { accessoryRoot } from './core/accessories.js';
import { assetRoot } from './core/assets.js';
import { DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE, isLogDriverName, isLogOptionKey, loggingPolicy, parseLogSize, type LoggingPolicy } from './core/logging-policy.js';
import { parseConnectionLimits, type ConnectionLimits } from './core/connection-budget.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface AgentPaths {
  db: string;
  identity: string;
  sealing: string;
  tlsDir: string;
  tlsCert: string;
  tlsKey: string;
}

export interface AgentConfig {
  stateDir: string;
  listen: ListenAddress;
  dockerHost: string;
  routerSocket: string;
  /** Where the router forwards webhook deliveries (--webhook-socket); webhooks.sock beside the router socket by default. */
  webhookSocket: string;
  network: string;
  networkSubnet: string;
  /** This server's name as containers see it (BERTH_HOST / KAMAL_HOST). */
  hostname: string;
  /** Test hook: the engine waits forever after entering this state. */
  testPauseAt: DeployState | undefined;
  /** Test hook (BERTH_TEST_POLL_SCALE): multiplies every auto_deploy poll interval; 1 unless set. */
  testPollScale: number;
  paths: AgentPaths;
  /** Capabilities releases may add (--allow-cap); none by default. */
  allowCaps: string[];
  /** Host directories releases may bind-mount from (--allow-bind); DEFAULT_ALLOW_BINDS by default. */
  allowBinds: string[];
  /** Host ports releases may publish (--allow-publish); none by default. */
  allowPublish: PublishAllowance;
  /** --allow-host-control-mounts: `/`, the Docker socket, /proc, /sys... may be bind-mounted. */
  hostControlMounts: boolean;
  // Logs (issue 8): what releases may set as logging, how long a log follow lasts.
  /** Drivers beyond the defaults (--allow-log-driver), their extra option keys (--allow-log-opt), size caps. */
  logging: LoggingPolicy;
  /** A log follow stream ends after this long (--log-follow-limit, seconds). */
  logFollowLimitMs: number;
  /** Caps and header timeout of the API server (--max-connections, --max-connections-per-ip, --header-timeout). */
  connections: ConnectionLimits;
  /** What cron jobs releases may schedule and how many run at once (--cron-min-interval, --cron-max-jobs, --cron-max-running). */
  cron: CronPolicy;
  /** Where backup files may be stored (--backup-dir, absolute; the first is the default) and how many are taken at once. */
  backups: { roots: string[]; maxRunning: number; minIntervalS: number };
  /** Where to serve GET /metrics (--metrics-listen); no metrics listener when absent. */
  metricsListen?: ListenAddress;
  /** Where certificates for `proxy: ssl: true` come from (--acme-directory, --acme-email, --acme-ca-file). */
  acme: { directoryUrl: string; email: string | undefined; caFile: string | undefined };
}

/** Let's Encrypt production. */
export const DEFAULT_ACME_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';

/** Flag values as parsed by agent/cli.ts; undefined means "not given". */
export interface AgentFlags {
  'state-dir'?: string | undefined;
  listen?: string | undefined;
  'docker-host'?: string | undefined;
  'router-socket'?: string | undefined;
  'webhook-socket'?: string | undefined;
  network?: string | undefined;
  'network-subnet'?: string | undefined;
  'allow-cap'?: string[] | undefined;
  'allow-bind'?: string[] | undefined;
  'allow-publish'?: string[] | undefined;
  /** 'true' when given (a switch). */
  'allow-host-control-mounts'?: string | undefined;
  'allow-log-driver'?: string[] | undefined;
  'allow-log-opt'?: string[] | undefined;
  'log-max-size'?: string | undefined;
  'log-max-file'?: string | undefined;
  'log-follow-limit'?: string | undefined;
  'max-connections'?: string | undefined;
  'max-connections-per-ip'?: string | undefined;
  'header-timeout'?: string | undefined;
  'cron-min-interval'?: string | undefined;
  'cron-max-jobs'?: string | undefined;
  'cron-max-running'?: string | undefined;
  'backup-dir'?: string[] | undefined;
  'backup-max-running'?: string | undefined;
  'backup-min-interval'?: string | undefined;
  'metrics-listen'?: string | undefined;
  'acme-directory'?: string | undefined;
  'acme-email'?: string | undefined;
  'acme-ca-file'?: string | undefined;
}

/** An operator's API: a few CLIs at a time, each with a handful of connections (events, logs, exec). */
export const DEFAULT_MAX_CONNECTIONS = 512;
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 32;

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export function agentPaths(stateDir: string): AgentPaths {
  const tlsDir = join(stateDir, 'tls');
  return {
    db: join(stateDir, 'berth.db'),
    identity: join(stateDir, 'identity.jwk'),
    sealing: join(stateDir, 'sealing.jwk'),
    tlsDir,
    tlsCert: join(tlsDir, 'cert.pem'),
    tlsKey: join(tlsDir, 'key.pem'),
  };
}

/** The state dir alone, for subcommands (init, trust, status) that need nothing else. */
export function loadStateDir(flags: Pick<AgentFlags, 'state-dir'>, env: NodeJS.ProcessEnv = process.env): string {
  const dir = pick(flags['state-dir'], env.BERTH_STATE_DIR, '/var/lib/berth');
  if (dir.includes('\0')) throw new ConfigError('--state-dir contains a NUL byte');
  return resolve(dir);
}

export function loadAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const stateDir = loadStateDir(flags, env);
  const network = pick(flags.network, env.BERTH_NETWORK, 'berth');
  if (!NETWORK_NAME.test(network)) throw new ConfigError(`--network "${network}" is not a valid Docker network name`);
  const pauseAt = env.BERTH_TEST_PAUSE_AT;
  if (pauseAt !== undefined && pauseAt !== '' && !(DEPLOY_STATES as readonly string[]).includes(pauseAt)) {
    throw new ConfigError(`BERTH_TEST_PAUSE_AT must be one of ${DEPLOY_STATES.join(', ')}`);
  }
  const pollScale = env.BERTH_TEST_POLL_SCALE;
  const testPollScale = pollScale === undefined || pollScale === '' ? 1 : Number(pollScale);
  if (!(testPollScale > 0 && testPollScale <= 1)) throw new ConfigError('BERTH_TEST_POLL_SCALE must be a number above 0 and at most 1');
  const routerSocket = resolve(pick(flags['router-socket'], env.BERTH_ROUTER_SOCKET, '/run/berth/router.sock'));
  return {
    stateDir,
    listen: parseListen(pick(flags.listen, env.BERTH_LISTEN, '0.0.0.0:7443'), '--listen'),
    dockerHost: parseDockerHost(pick(flags['docker-host'], env.DOCKER_HOST, 'unix:///var/run/docker.sock')),
    routerSocket,
    webhookSocket: resolve(pick(flags['webhook-socket'], env.BERTH_WEBHOOK_SOCKET, join(dirname(routerSocket), 'webhooks.sock'))),
    network,
    networkSubnet: parseSubnet(pick(flags['network-subnet'], env.BERTH_NETWORK_SUBNET, '10.210.0.0/24')),
    hostname: hostname(),
    testPauseAt: pauseAt ? (pauseAt as DeployState) : undefined,
    testPollScale,
    paths: agentPaths(stateDir),
    allowCaps: parseAllowCaps(flags['allow-cap'] ?? splitList(env.BERTH_ALLOW_CAPS) ?? []),
    allowBinds: parseAllowBinds(flags['allow-bind'] ?? splitList(env.BERTH_ALLOW_BINDS) ?? [...DEFAULT_ALLOW_BINDS]),
    ...hostReach(flags, env),
    ...loadLogConfig(flags, env),
    connections: parseConnectionLimits(
      {
        max: pickOptional(flags['max-connections'], env.BERTH_MAX_CONNECTIONS),
        perAddress: pickOptional(flags['max-connections-per-ip'], env.BERTH_MAX_CONNECTIONS_PER_IP),
        headerTimeout: pickOptional(flags['header-timeout'], env.BERTH_HEADER_TIMEOUT),
      },
      { max: '--max-connections', perAddress: '--max-connections-per-ip', headerTimeout: '--header-timeout' },
      { maxConnections: DEFAULT_MAX_CONNECTIONS, maxPerAddress: DEFAULT_MAX_CONNECTIONS_PER_IP },
    ),
    cron: {
      minIntervalS: wholeNumber(pick(flags['cron-min-interval'], env.BERTH_CRON_MIN_INTERVAL, String(DEFAULT_CRON_POLICY.minIntervalS)), '--cron-min-interval', 1, 86_400),
      maxJobs: wholeNumber(pick(flags['cron-max-jobs'], env.BERTH_CRON_MAX_JOBS, String(DEFAULT_CRON_POLICY.maxJobs)), '--cron-max-jobs', 0, 10_000),
      maxRunning: wholeNumber(pick(flags['cron-max-running'], env.BERTH_CRON_MAX_RUNNING, String(DEFAULT_CRON_POLICY.maxRunning)), '--cron-max-running', 1, 256),
    },
    backups: {
      roots: parseBackupDirs(flags['backup-dir'] ?? splitList(env.BERTH_BACKUP_DIRS) ?? [join(stateDir, 'backups')]),
      maxRunning: wholeNumber(pick(flags['backup-max-running'], env.BERTH_BACKUP_MAX_RUNNING, '2'), '--backup-max-running', 1, 64),
      minIntervalS: wholeNumber(pick(flags['backup-min-interval'], env.BERTH_BACKUP_MIN_INTERVAL, String(DEFAULT_BACKUP_MIN_INTERVAL_S)), '--backup-min-interval', 1, 86_400),
    },
    ...metricsListen(pickOptional(flags['metrics-listen'], env.BERTH_METRICS_LISTEN)),
    acme: parseAcme(flags, env),
  };
}

/**
 * The guardrails the engine and the API apply: the config's allowances, the
 * agent's own files protected. So are the backup roots: every service's
 * backups are there, and a container that could write there could plant a
 * symlink where the agent writes backup files.
 */
export function agentGuardrails(
  config: Pick<AgentConfig, 'allowCaps' | 'allowBinds' | 'stateDir' | 'dockerHost'> & Partial<Pick<AgentConfig, 'logging' | 'backups' | 'allowPublish' | 'hostControlMounts'>>,
): GuardrailPolicy {
  const socket = config.dockerHost.startsWith('unix://') ? config.dockerHost.slice('unix://'.length) : undefined;
  return guardrailPolicy({
    allowCaps: config.allowCaps,
    allowBinds: config.allowBinds,
    protect: [config.stateDir, ...(config.backups?.roots ?? [])],
    ...(socket ? { engineSocket: socket } : {}),
    ...(config.allowPublish ? { allowPublish: config.allowPublish } : {}),
    ...(config.hostControlMounts ? { hostControlMounts: true } : {}),
    accessoryRoot: accessoryRoot(config.stateDir),
    assetRoot: assetRoot(config.stateDir),
    ...(config.logging ? { logging: config.logging } : {}),
  });
}

// Logs (issue 8): --allow-log-driver, --allow-log-opt, --log-max-size, --log-max-file, --log-follow-limit.
const MAX_FOLLOW_LIMIT_S = 7 * 86_400;

function loadLogConfig(flags: AgentFlags, env: NodeJS.ProcessEnv): Pick<AgentConfig, 'logging' | 'logFollowLimitMs'> {
  const drivers = flags['allow-log-driver'] ?? splitList(env.BERTH_ALLOW_LOG_DRIVERS) ?? [];
  for (const d of drivers) {
    if (!isLogDriverName(d)) throw new ConfigError(`--allow-log-driver "${d.slice(0, 130)}" is not a logging driver name (like syslog or grafana/loki:latest)`);
  }
  const opts = flags['allow-log-opt'] ?? splitList(env.BERTH_ALLOW_LOG_OPTS) ?? [];
  for (const o of opts) {
    if (!isLogOptionKey(o)) throw new ConfigError(`--allow-log-opt "${o.slice(0, 130)}" is not a logging option name (like syslog-address)`);
  }
  const size = pick(flags['log-max-size'], env.BERTH_LOG_MAX_SIZE, DEFAULT_LOG_MAX_SIZE);
  const maxSizeBytes = parseLogSize(size);
  if (maxSizeBytes === undefined) throw new ConfigError(`--log-max-size "${size.slice(0, 40)}" is not a size (like 100m or 1g)`);
  const maxFiles = wholeNumber(pick(flags['log-max-file'], env.BERTH_LOG_MAX_FILE, String(DEFAULT_LOG_MAX_FILES)), '--log-max-file', 1, 1000);
  const followS = wholeNumber(pick(flags['log-follow-limit'], env.BERTH_LOG_FOLLOW_LIMIT, '3600'), '--log-follow-limit', 1, MAX_FOLLOW_LIMIT_S);
  return {
    logging: loggingPolicy({ allowDrivers: drivers, allowOptions: opts, maxSizeBytes, maxFiles }),
    logFollowLimitMs: followS * 1000,
  };
}

function wholeNumber(value: string, what: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) throw new ConfigError(`${what} "${value.slice(0, 40)}" must be a whole number from ${min} to ${max}`);
  return Number(value);
}

function parseBackupDirs(values: string[]): string[] {
  const dirs = values.map((d) => {
    if (!d.startsWith('/') || d.includes('\0') || d.split('/').includes('..')) throw new ConfigError(`--backup-dir "${d.slice(0, 200)}" must be an absolute path without ".."`);
    const dir = posix.normalize(d).replace(/(.)\/$/, '$1');
    // A root is where a release's `path:` may put files, and no container may mount it.
    if (dir === '/') throw new ConfigError('--backup-dir / is refused: backups would be written anywhere on the host, and nothing could be bind-mounted', 'name a directory for backups, like /var/backups/berth');
    return dir;
  });
  return [...new Set(dirs)];
}

function splitList(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** --allow-publish and --allow-host-control-mounts (issue 14): what reaches beyond a container is the owner's call. */
function hostReach(flags: AgentFlags, env: NodeJS.ProcessEnv): Pick<AgentConfig, 'allowPublish' | 'hostControlMounts'> {
  let allowPublish: PublishAllowance;
  try {
    allowPublish = parsePublishAllowance(flags['allow-publish'] ?? splitList(env.BERTH_ALLOW_PUBLISH) ?? []);
  } catch (e) {
    throw new ConfigError(`--allow-publish ${(e as Error).message}`);
  }
  const hostControl = flags['allow-host-control-mounts'] ?? env.BERTH_ALLOW_HOST_CONTROL_MOUNTS ?? '';
  if (!['', '0', 'false', '1', 'true'].includes(hostControl)) throw new ConfigError('BERTH_ALLOW_HOST_CONTROL_MOUNTS must be 1, true, 0 or false');
  return { allowPublish, hostControlMounts: hostControl === '1' || hostControl === 'true' };
}

function parseAllowCaps(values: string[]): string[] {
  return values.map((raw) => {
    const cap = capabilityName(raw);
    if (cap === 'ALL') throw new ConfigError('--allow-cap ALL is refused: name each capability releases may add');
    if (!/^[A-Z_]{2,32}$/.test(cap)) throw new ConfigError(`--allow-cap "${raw.slice(0, 40)}" is not a capability name (like SYS_NICE)`);
    return cap;
  });
}

/** `none` alone allows no bind mounts at all; named volumes still work. */
function parseAllowBinds(values: string[]): string[] {
  if (values.length === 1 && values[0] === 'none') return [];
  return values.map((raw) => {
    const dir = posix.normalize(raw).replace(/(.)\/$/, '$1');
    if (!raw.startsWith('/') || raw.split('/').includes('..') || raw.includes('\0')) {
      throw new ConfigError(`--allow-bind "${raw.slice(0, 200)}" must be an absolute directory without ".."`);
    }
    const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
    const clash = PROTECTED_PATHS.find((p) => within(dir, p) || within(p, dir));
    if (dir === '/' || clash !== undefined) {
      throw new ConfigError(`--allow-bind ${dir} is refused: it would give containers the host (${clash ?? '/'})`);
    }
    return dir;
  });
}

function metricsListen(value: string | undefined): Pick<AgentConfig, 'metricsListen'> {
  return value === undefined ? {} : { metricsListen: parseListen(value, '--metrics-listen') };
}

function pickOptional(flag: string | undefined, envValue: string | undefined): string | undefined {
  return flag ?? (envValue === '' ? undefined : envValue);
}

function pick(flag: string | undefined, envValue: string | undefined, fallback: string): string {
  if (flag !== undefined) return flag;
  if (envValue !== undefined && envValue !== '') return envValue;
  return fallback;
}

/** `HOST:PORT`, `[v6]:PORT`; the host must be an IP so we never bind by a DNS answer. */
export function parseListen(value: string, what: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || isIP(host) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`${what} "${value}" must be IP:PORT (e.g. 0.0.0.0:7443 or [::1]:7443)`);
  }
  return { host, port };
}

function parseDockerHost(value: string): string {
  if (!/^(unix:\/\/\/.+|tcp:\/\/.+|http:\/\/.+)$/.test(value)) {
    throw new ConfigError(`docker host "${value}" must be unix:///path or tcp://host:port`);
  }
  return value;
}

function parseSubnet(value: string): string {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(value);
  const prefix = Number(m?.[2]);
  if (!m || isIP(m[1] ?? '') !== 4 || prefix < 8 || prefix > 30) {
    throw new ConfigError(`--network-subnet "${value}" must be an IPv4 CIDR like 10.210.0.0/24 (prefix 8-30)`);
  }
  return value;
}

function parseAcme(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentConfig['acme'] {
  const directoryUrl = pick(flags['acme-directory'], env.BERTH_ACME_DIRECTORY, DEFAULT_ACME_DIRECTORY);
  if (!/^https:\/\/[^\s/?#]+(\/[^\s]*)?$/.test(directoryUrl) || directoryUrl.length > 2000) {
    throw new ConfigError(`--acme-directory must be an https:// URL, got ${JSON.stringify(directoryUrl.slice(0, 100))}`);
  }
  const email = pickOptional(flags['acme-email'], env.BERTH_ACME_EMAIL) || undefined;
  if (email !== undefined && !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email)) throw new ConfigError(`--acme-email ${JSON.stringify(email.slice(0, 100))} is not an email address`);
  const caFile = pickOptional(flags['acme-ca-file'], env.BERTH_ACME_CA_FILE) || undefined;
  return { directoryUrl, email, caFile: caFile === undefined ? undefined : resolve(caFile) };
}
