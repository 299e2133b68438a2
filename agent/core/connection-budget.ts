// PURE: how many client connections the agent's API server and the router may
// hold, and the timeouts that free a slot a client is not using. The sockets
// themselves are counted in agent/connection-guard.ts.
//
// Every connection costs a file descriptor, and while it streams (logs, exec,
// a proxied response) often a second one on the far side (Docker, the target).
// A process that runs out fails its own work first: the agent's Docker calls,
// its SQLite files and the router socket (EMFILE). So the total is capped well
// below the process's open-file limit, leaving a fixed reserve.

import { ConfigError } from '../../shared/errors.js';

export interface ConnectionLimits {
  /** Open client connections in total (TLS handshakes, requests, upgraded sockets alike). */
  maxConnections: number;
  /** Open connections per client address (an IPv6 client: per /64). */
  maxPerAddress: number;
  /** A connection must have sent a whole request head (after its TLS handshake) within this. */
  headerTimeoutMs: number;
}

export const DEFAULT_HEADER_TIMEOUT_S = 20;
/** Between requests on a kept-alive connection (Node adds a 1 s grace). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Descriptors kept for everything that is not a client: Node itself, SQLite, Docker calls of running deploys, the router socket, registries. */
export const FD_RESERVE = 128;
/** A client connection plus the one it may hold open on the far side. */
export const FDS_PER_CONNECTION = 2;

/** The total cap the open-file limit allows, never below 1. */
export function cappedByOpenFiles(maxConnections: number, openFilesLimit: number | undefined): number {
  if (openFilesLimit === undefined) return maxConnections;
  return Math.max(1, Math.min(maxConnections, Math.floor((openFilesLimit - FD_RESERVE) / FDS_PER_CONNECTION)));
}

/** The soft "Max open files" of a /proc/<pid>/limits text; undefined when absent or unlimited. */
export function openFilesLimit(procLimits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(procLimits);
  if (!m || m[1] === 'unlimited') return undefined;
  return Number(m[1]);
}

/**
 * The bucket a client address is counted in: an IPv4 address (also when
 * IPv4-mapped), or the /64 of an IPv6 address, since one host gets a whole /64.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export interface HttpTimeouts {
  headersTimeout: number;
  connectionsCheckingInterval: number;
  keepAliveTimeout: number;
  /** TLS only. */
  handshakeTimeout?: number;
}

/**
 * Node's server options for a header timeout of `headerTimeoutMs`. Node checks
 * expired heads only every `connectionsCheckingInterval` (30 s by default,
 * letting a silent connection live 60-90 s), so the check runs often and the
 * timeout is shortened by one interval. A TLS handshake gets half the budget
 * and the head the rest, so neither alone can stretch a connection past it.
 */
export function httpTimeouts(headerTimeoutMs: number, tls: boolean): HttpTimeouts {
  const connectionsCheckingInterval = Math.min(1_000, Math.max(50, Math.round(headerTimeoutMs / 20)));
  const handshake = tls ? Math.floor(headerTimeoutMs / 2) : 0;
  return {
    headersTimeout: Math.max(connectionsCheckingInterval, headerTimeoutMs - handshake - connectionsCheckingInterval),
    connectionsCheckingInterval,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    ...(tls ? { handshakeTimeout: handshake } : {}),
  };
}

export interface ConnectionOptionNames {
  max: string;
  perAddress: string;
  headerTimeout: string;
}

/** Options as given (flag or env, undefined when neither) → limits; ConfigError names the option. */
export function parseConnectionLimits(
  values: { max?: string | undefined; perAddress?: string | undefined; headerTimeout?: string | undefined },
  names: ConnectionOptionNames,
  defaults: { maxConnections: number; maxPerAddress: number },
): ConnectionLimits {
  const maxConnections = count(values.max, names.max, defaults.maxConnections);
  const maxPerAddress = count(values.perAddress, names.perAddress, defaults.maxPerAddress);
  if (maxPerAddress > maxConnections) {
    throw new ConfigError(`${names.perAddress} (${maxPerAddress}) must not exceed ${names.max} (${maxConnections})`);
  }
  let headerTimeoutMs = DEFAULT_HEADER_TIMEOUT_S * 1000;
  if (values.headerTimeout !== undefined) {
    const s = Number(values.headerTimeout);
    if (!/^\d+(\.\d+)?$/.test(values.headerTimeout) || s < 0.5 || s > 300) {
      throw new ConfigError(`${names.headerTimeout} "${values.headerTimeout.slice(0, 40)}" must be seconds between 0.5 and 300`);
    }
    headerTimeoutMs = Math.round(s * 1000);
  }
  return { maxConnections, maxPerAddress, headerTimeoutMs };
}

function count(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d{1,7}$/.test(value) || n < 1) throw new ConfigError(`${name} "${value.slice(0, 40)}" must be a whole number from 1 to 9999999`);
  return n;
}
