// HOST[:PORT] as written in deploy.yml `servers:` and `deploy server add`.
// Hostnames, IPv4 and bracketed IPv6 ("[::1]:7443"); the port defaults to the agent port.

import { isIPv4, isIPv6 } from 'node:net';
import { UserError } from '../shared/errors.js';

export const DEFAULT_AGENT_PORT = 7443;

export interface ServerAddress {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

export function isValidHostname(host: string): boolean {
  return HOSTNAME.test(host) || isIPv4(host);
}

export function parsePort(text: string): number | undefined {
  if (!/^[0-9]{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** Throws UserError naming the entry when it is not HOST, HOST:PORT or [IPv6]:PORT. */
export function parseServerAddress(entry: string, defaultPort = DEFAULT_AGENT_PORT): ServerAddress {
  const bad = () =>
    new UserError(`"${entry.slice(0, 100)}" is not HOST or HOST:PORT`, 'write a hostname or IP address, optionally with the agent port, e.g. 203.0.113.7:7443');
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 300) throw bad();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  // An IPv6 address has two colons or more, HOST:PORT one; isIPv6 compiles a large pattern on first use.
  const maybeIPv6 = entry.indexOf(':') !== entry.lastIndexOf(':');
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (!isIPv6(host)) throw bad();
  } else if (maybeIPv6 && isIPv6(entry)) {
    host = entry;
  } else {
    const colon = entry.lastIndexOf(':');
    host = colon === -1 ? entry : entry.slice(0, colon);
    portText = colon === -1 ? undefined : entry.slice(colon + 1);
    if (!isValidHostname(host)) throw bad();
    host = host.toLowerCase();
  }
  if (portText === undefined) return { host, port: defaultPort };
  const port = parsePort(portText);
  if (port === undefined) throw bad();
  return { host, port };
}

/** An IP address rather than a name (TLS sends no server name for it). A host name never holds a colon. */
export function isIPAddress(host: string): boolean {
  return host.includes(':') ? isIPv6(host) : isIPv4(host);
}

/** The key used in known_agents and in output: host:port, IPv6 in brackets. */
export function formatServerAddress(address: ServerAddress): string {
  // The colon test first: isIPv6 compiles a large pattern on first use, which costs a command's start-up.
  return address.host.includes(':') && isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
