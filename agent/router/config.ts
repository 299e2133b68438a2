// Configuration of `berth-agent router`: options first, then environment,
// then defaults (docs/internals.md "Agent config"). The only router file that
// reads process.env.

import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../shared/errors.js';
import { DEFAULT_HEADER_TIMEOUT_S, parseConnectionLimits, type ConnectionLimits } from '../core/connection-budget.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface RouterConfig {
  stateDir: string;
  httpListen: ListenAddress;
  socketPath: string;
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
}

export const DEFAULT_STATE_DIR = '/var/lib/berth';
export const DEFAULT_HTTP_LISTEN = '0.0.0.0:80';
export const DEFAULT_ROUTER_SOCKET = '/run/berth/router.sock';
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** As kamal-proxy's idle timeout: a stalled upload or a client that stopped reading frees its slot. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Public traffic: browsers open about 6 connections per host, many clients may share a NAT address. */
export const DEFAULT_ROUTER_CONNECTIONS: ConnectionLimits = Object.freeze({
  maxConnections: 4096,
  maxPerAddress: 256,
  headerTimeoutMs: DEFAULT_HEADER_TIMEOUT_S * 1000,
});

type Env = Record<string, string | undefined>;

export function loadRouterConfig(argv: string[], env: Env = process.env): RouterConfig {
  // Tolerate being handed the subcommand itself.
  const args = argv[0] === 'router' ? argv.slice(1) : argv;
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'state-dir': { type: 'string' },
        'http-listen': { type: 'string' },
        'router-socket': { type: 'string' },
        snapshot: { type: 'string' },
        'max-connections': { type: 'string' },
        'max-connections-per-ip': { type: 'string' },
        'header-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError(
      `berth-agent router: ${(e as Error).message}`,
      'options: --state-dir DIR --http-listen HOST:PORT --router-socket PATH --snapshot PATH --max-connections N --max-connections-per-ip N --header-timeout SECONDS --idle-timeout SECONDS',
    );
  }
  const pick = (option: string, envName: string): string | undefined => {
    const v = values[option] ?? env[envName];
    return v === undefined || v === '' ? undefined : v;
  };
  const stateDir = resolve(pick('state-dir', 'BERTH_STATE_DIR') ?? DEFAULT_STATE_DIR);
  return {
    stateDir,
    httpListen: parseListenAddress(pick('http-listen', 'BERTH_HTTP_LISTEN') ?? DEFAULT_HTTP_LISTEN, '--http-listen'),
    socketPath: resolve(pick('router-socket', 'BERTH_ROUTER_SOCKET') ?? DEFAULT_ROUTER_SOCKET),
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
  };
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
