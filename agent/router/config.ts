// Configuration of `berth-agent router`: options first, then environment,
// then defaults (docs/internals.md "Agent config"). The only router file that
// reads process.env.

import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../shared/errors.js';
import { DEFAULT_BUFFER_DISK_BUDGET } from './buffer-store.js';
import { BIN, STATE_DIR_OPTION, toParseArgsOptions, type CommandSpec } from '../command-spec.js';
import { DEFAULT_HEADER_TIMEOUT_S, parseConnectionLimits, type ConnectionLimits } from '../core/connection-budget.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface RouterConfig {
  stateDir: string;
  httpListen: ListenAddress;
  /** Where to serve HTTPS; none (`off`) when absent. */
  httpsListen?: ListenAddress | undefined;
  /** The certificates the agent sent (0600 JSON files); <stateDir>/router/tls when absent. */
  tlsDir?: string;
  socketPath: string;
  /** The agent's webhook socket (--webhook-socket); webhooks.sock beside the control socket when absent. */
  webhookSocket?: string;
  snapshotPath: string;
  /** How long a shutdown waits for in-flight requests. */
  shutdownTimeoutMs: number;
  /** Caps and header timeout of the proxy server; DEFAULT_ROUTER_CONNECTIONS when absent. */
  connections?: ConnectionLimits;
  /**
   * A client connection that moves no byte either way for this long is closed,
   * except while the router waits for the app's answer (the route's
   * response_timeout governs that); DEFAULT_IDLE_TIMEOUT_MS when absent.
   */
  idleTimeoutMs?: number;
  /** Where to serve GET /metrics (--metrics-listen); no metrics listener when absent. */
  metricsListen?: ListenAddress;
  /** Bytes the spill files of buffered bodies may hold at once (--buffer-disk-max); DEFAULT_BUFFER_DISK_BUDGET when absent. */
  bufferDiskMax?: number;
  /** One JSON line per request on stdout (--request-log on|off); on when absent, as kamal-proxy. */
  requestLog?: boolean;
  /** Proxy processes (--workers); 1 (absent) is one process, no cluster (agent/router/cluster-primary.ts). */
  workers?: number;
}

const MIB = 1024 * 1024;

export const DEFAULT_STATE_DIR = '/var/lib/berth';
export const DEFAULT_HTTP_LISTEN = '0.0.0.0:80';
export const DEFAULT_HTTPS_LISTEN = '0.0.0.0:443';
export const DEFAULT_ROUTER_SOCKET = '/run/berth/router.sock';
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** As kamal-proxy's idle timeout: a stalled upload or a client that stopped reading frees its slot. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** `--workers auto` takes the CPUs up to this: past it, the primary's per-connection bookkeeping and memory outgrow the gain. */
export const MAX_AUTO_WORKERS = 8;
export const MAX_WORKERS = 64;
/** Public traffic: browsers open about 6 connections per host, many clients may share a NAT address. */
export const DEFAULT_ROUTER_CONNECTIONS: ConnectionLimits = Object.freeze({
  maxConnections: 4096,
  maxPerAddress: 256,
  headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_S * 1000,
});

/** `berth-agent router`: its options and help, and what loadRouterConfig parses. */
export const ROUTER_COMMAND: CommandSpec = {
  name: 'router',
  summary: 'run the HTTP router',
  options: {
    'state-dir': STATE_DIR_OPTION,
    'http-listen': { value: 'IP:PORT', env: 'BERTH_HTTP_LISTEN', default: DEFAULT_HTTP_LISTEN, description: 'where to serve HTTP' },
    'https-listen': {
      value: 'IP:PORT|off', env: 'BERTH_HTTPS_LISTEN', default: DEFAULT_HTTPS_LISTEN,
      description: 'where to serve HTTPS (certificates chosen by SNI)', note: 'listens before any certificate exists; a name without one fails its handshake',
    },
    'router-socket': { value: 'PATH', env: 'BERTH_ROUTER_SOCKET', default: DEFAULT_ROUTER_SOCKET, description: 'control socket' },
    'webhook-socket': {
      value: 'PATH', env: 'BERTH_WEBHOOK_SOCKET', default: 'webhooks.sock beside the router socket',
      description: 'the agent socket /.berth/webhooks/ requests go to',
    },
    snapshot: { value: 'PATH', env: 'BERTH_ROUTER_SNAPSHOT', default: '<state-dir>/router/routes.json', description: 'route snapshot' },
    'max-connections': {
      value: 'N', env: 'BERTH_ROUTER_MAX_CONNECTIONS', default: String(DEFAULT_ROUTER_CONNECTIONS.maxConnections),
      description: 'open client connections in total', note: 'lowered to keep file descriptors for the targets and the control socket',
    },
    'max-connections-per-ip': {
      value: 'N', env: 'BERTH_ROUTER_MAX_CONNECTIONS_PER_IP', default: String(DEFAULT_ROUTER_CONNECTIONS.maxPerAddress),
      description: 'per client address, an IPv6 /64 counting as one',
    },
    'header-timeout': {
      value: 'SECONDS', env: 'BERTH_ROUTER_HEADER_TIMEOUT', default: String(DEFAULT_HEADER_TIMEOUT_S),
      description: 'a request head must arrive within this',
    },
    'idle-timeout': {
      value: 'SECONDS', env: 'BERTH_ROUTER_IDLE_TIMEOUT', default: String(DEFAULT_IDLE_TIMEOUT_MS / 1000),
      description: "a connection that moves no byte either way for this long is closed, except while the app works on its answer",
    },
    'metrics-listen': {
      value: 'IP:PORT', env: 'BERTH_ROUTER_METRICS_LISTEN', default: 'off',
      description: 'serve Prometheus metrics at GET /metrics here', note: 'e.g. 127.0.0.1:9180; any other address is reachable by whoever can reach it',
    },
    'request-log': {
      value: 'on|off', env: 'BERTH_ROUTER_REQUEST_LOG', default: 'on',
      description: 'one JSON line per request on stdout',
    },
    'buffer-disk-max': {
      value: 'MIB', env: 'BERTH_ROUTER_BUFFER_DISK_MAX', default: String(DEFAULT_BUFFER_DISK_BUDGET / MIB),
      description: 'disk the buffered bodies of all requests may hold at once (<state-dir>/router/buffers)',
      note: 'a body that would pass it is refused with 503',
    },
    workers: {
      value: 'N|auto', env: 'BERTH_ROUTER_WORKERS', default: '1',
      description: 'proxy processes sharing the ports (auto: one per CPU, at most 8)', note: 'see docs/router.md "Workers"',
    },
  },
};

type Env = Record<string, string | undefined>;

export function loadRouterConfig(argv: string[], env: Env = process.env): RouterConfig {
  // Tolerate being handed the subcommand itself.
  const args = argv[0] === 'router' ? argv.slice(1) : argv;
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      // Every router option takes a value.
      options: toParseArgsOptions(ROUTER_COMMAND.options) as Record<string, { type: 'string' }>,
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError(
      `berth-agent router: ${(e as Error).message}`,
      `see ${BIN} router --help`,
    );
  }
  const pick = (option: string, envName: string): string | undefined => {
    const v = values[option] ?? env[envName];
    return v === undefined || v === '' ? undefined : v;
  };
  const stateDir = resolve(pick('state-dir', 'BERTH_STATE_DIR') ?? DEFAULT_STATE_DIR);
  const socketPath = resolve(pick('router-socket', 'BERTH_ROUTER_SOCKET') ?? DEFAULT_ROUTER_SOCKET);
  return {
    stateDir,
    httpListen: parseListenAddress(pick('http-listen', 'BERTH_HTTP_LISTEN') ?? DEFAULT_HTTP_LISTEN, '--http-listen'),
    httpsListen: httpsListen(pick('https-listen', 'BERTH_HTTPS_LISTEN') ?? DEFAULT_HTTPS_LISTEN),
    tlsDir: join(stateDir, 'router', 'tls'),
    socketPath,
    webhookSocket: resolve(pick('webhook-socket', 'BERTH_WEBHOOK_SOCKET') ?? join(dirname(socketPath), 'webhooks.sock')),
    snapshotPath: resolve(pick('snapshot', 'BERTH_ROUTER_SNAPSHOT') ?? join(stateDir, 'router', 'routes.json')),
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    connections: parseConnectionLimits(
      {
        max: pick('max-connections', 'BERTH_ROUTER_MAX_CONNECTIONS'),
        perAddress: pick('max-connections-per-ip', 'BERTH_ROUTER_MAX_CONNECTIONS_PER_IP'),
        headerTimeout: pick('header-timeout', 'BERTH_ROUTER_HEADER_TIMEOUT'),
      },
      { max: '--max-connections', perAddress: '--max-connections-per-ip', headerTimeout: '--header-timeout' },
      DEFAULT_ROUTER_CONNECTIONS,
    ),
    idleTimeoutMs: idleTimeout(pick('idle-timeout', 'BERTH_ROUTER_IDLE_TIMEOUT')),
    ...metricsListen(pick('metrics-listen', 'BERTH_ROUTER_METRICS_LISTEN')),
    requestLog: onOff(pick('request-log', 'BERTH_ROUTER_REQUEST_LOG') ?? 'on', '--request-log'),
    workers: parseWorkers(pick('workers', 'BERTH_ROUTER_WORKERS') ?? '1'),
    bufferDiskMax: bufferDiskMax(pick('buffer-disk-max', 'BERTH_ROUTER_BUFFER_DISK_MAX')),
  };
}

function metricsListen(value: string | undefined): Pick<RouterConfig, 'metricsListen'> {
  return value === undefined ? {} : { metricsListen: parseListenAddress(value, '--metrics-listen') };
}

function onOff(value: string, name: string): boolean {
  if (value !== 'on' && value !== 'off') throw new ConfigError(`${name} must be on or off, got ${JSON.stringify(value.slice(0, 40))}`);
  return value === 'on';
}

export function parseWorkers(value: string, cpus: number = availableParallelism()): number {
  if (value === 'auto') return Math.max(1, Math.min(MAX_AUTO_WORKERS, cpus));
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value) || n < 1 || n > MAX_WORKERS) {
    throw new ConfigError(`--workers must be auto or a number from 1 to ${MAX_WORKERS}, got ${JSON.stringify(value.slice(0, 40))}`);
  }
  return n;
}

function bufferDiskMax(value: string | undefined): number {
  if (value === undefined) return DEFAULT_BUFFER_DISK_BUDGET;
  const mib = Number(value);
  if (!/^\d{1,7}$/.test(value) || mib > 1024 * 1024) {
    throw new ConfigError(`--buffer-disk-max must be MiB from 0 to ${1024 * 1024}, got ${JSON.stringify(value.slice(0, 40))}`);
  }
  return mib * MIB;
}

function httpsListen(value: string): ListenAddress | undefined {
  return value === 'off' ? undefined : parseListenAddress(value, '--https-listen');
}

function idleTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_IDLE_TIMEOUT_MS;
  const s = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || s < 1 || s > 3600) {
    throw new ConfigError(`--idle-timeout "${value.slice(0, 40)}" must be seconds between 1 and 3600`);
  }
  return Math.round(s * 1000);
}

/** `HOST:PORT` or `[IPv6]:PORT`; HOST must be an IP address. Port 0 picks a free port. */
export function parseListenAddress(value: string, name: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || port > 65535 || isIP(host) === 0 || (m[1] !== undefined && isIP(host) !== 6)) {
    throw new ConfigError(`${name} must be IP:PORT (IPv6 as [addr]:port), got ${JSON.stringify(value.slice(0, 100))}`);
  }
  return { host, port };
}
