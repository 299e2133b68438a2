// `servers:` as Kamal 2 reads it: a list of hosts (the primary role), or a map
// of role → list of hosts, or role → { hosts, cmd, options, labels, env, proxy,
// logging, asset_path, stop_timeout }. A host entry is "HOST", { HOST: tag } or { HOST: [tags] }.

import { formatServerAddress, parseServerAddress } from '../address.js';
import { Findings, isPlainObject } from './issues.js';
import { checkDockerOptions } from './options.js';
import { checkEnv } from './schema-env.js';
import { mergeProxyInputs, parseProxy, resolveProxy, type ProxyInput } from './schema-proxy.js';
import { checkCmd, checkInteger, checkLabels, checkLogging, checkPathString } from './schema-values.js';
import type { HostEntry, RoleConfig } from './types.js';
import type { KeyPath } from './yaml.js';

export const ROLE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ROLE_KEYS = ['hosts', 'cmd', 'options', 'labels', 'env', 'proxy', 'logging', 'asset_path', 'stop_timeout'];
const MAX_HOSTS = 500;

function checkHosts(raw: unknown, path: KeyPath, agentPort: number, findings: Findings): HostEntry[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    findings.error(path, 'should be a list of hosts');
    return [];
  }
  if (raw.length > MAX_HOSTS) findings.error(path, `should have at most ${MAX_HOSTS} hosts`);
  const out: HostEntry[] = [];
  const seen = new Set<string>();
  raw.slice(0, MAX_HOSTS).forEach((entry, i) => {
    let host: unknown = entry;
    let tags: unknown = [];
    if (isPlainObject(entry)) {
      const pairs = Object.entries(entry);
      if (pairs.length !== 1) {
        findings.error([...path, i], 'multiple hosts found (write one HOST: tags per entry)');
        return;
      }
      [host, tags] = pairs[0] as [string, unknown];
      const tagList = typeof tags === 'string' ? [tags] : tags;
      if (!Array.isArray(tagList) || !tagList.every((t) => typeof t === 'string' && TAG.test(t))) {
        findings.error([...path, i, String(host)], 'should be a tag or a list of tags');
        return;
      }
      tags = tagList;
    } else if (typeof entry !== 'string') {
      findings.error([...path, i], 'should be a string or a map');
      return;
    }
    try {
      const address = parseServerAddress(host as string, agentPort);
      const key = formatServerAddress(address);
      if (seen.has(key)) findings.error([...path, i], `${key} is listed twice`);
      seen.add(key);
      out.push({ address, tags: tags as string[] });
    } catch (err) {
      findings.error([...path, i], err instanceof Error ? err.message : 'should be HOST or HOST:PORT');
    }
  });
  return out;
}

export interface ServersContext {
  primaryRole: string;
  agentPort: number;
  topProxy: ProxyInput | undefined;
}

function checkRole(name: string, raw: unknown, ctx: ServersContext, findings: Findings): RoleConfig {
  const path = ['servers', name];
  const primary = name === ctx.primaryRole;
  const role: RoleConfig = { name, primary, hosts: [], env: { clear: {}, secret: [] }, labels: {}, options: {}, proxy: null };
  let proxySwitch: unknown;
  if (Array.isArray(raw)) {
    role.hosts = checkHosts(raw, path, ctx.agentPort, findings);
  } else if (isPlainObject(raw)) {
    for (const key of Object.keys(raw)) {
      if (key === 'traefik' || key === 'healthcheck') findings.error([...path, key], `is a Kamal 1 key; Kamal 2 and Berth use servers/${name}/proxy (host, app_port, healthcheck)`);
      else if (!ROLE_KEYS.includes(key)) findings.error([...path, key], 'unknown key');
    }
    role.hosts = checkHosts(raw.hosts, [...path, 'hosts'], ctx.agentPort, findings);
    const cmd = checkCmd(raw.cmd, [...path, 'cmd'], findings);
    if (cmd) role.cmd = cmd;
    role.options = checkDockerOptions(raw.options, [...path, 'options'], findings, false);
    role.labels = checkLabels(raw.labels, [...path, 'labels'], findings, true);
    role.env = checkEnv(raw.env, [...path, 'env'], findings, false).env;
    const logging = checkLogging(raw.logging, [...path, 'logging'], findings);
    if (logging) role.logging = logging;
    const assetPath = checkPathString(raw.asset_path, [...path, 'asset_path'], findings);
    if (assetPath) role.asset_path = assetPath;
    // Kamal 2.12: a role's own stop timeout; a release carries one stop_timeout for all roles.
    if (checkInteger(raw.stop_timeout, [...path, 'stop_timeout'], findings, 1, 3600) !== undefined) {
      findings.warn([...path, 'stop_timeout'], 'not in force: the agent gives every role the top-level stop_timeout; set it there');
    }
    proxySwitch = raw.proxy;
  } else if (raw !== null && raw !== undefined) {
    findings.error(path, 'should be a list of hosts or a map with hosts');
  }
  // Kamal: the primary role is proxied unless `proxy: false`; others only with `proxy: true` or a map.
  const proxied = primary ? proxySwitch !== false : proxySwitch !== undefined && proxySwitch !== null && proxySwitch !== false;
  if (proxied) {
    const own = typeof proxySwitch === 'boolean' ? {} : parseProxy(proxySwitch, [...path, 'proxy'], findings);
    // Problems of the top-level proxy are reported once, where they are written.
    const ownsProblems = own !== undefined && Object.keys(own).length > 0;
    role.proxy = resolveProxy(mergeProxyInputs(ctx.topProxy, own), [...path, 'proxy'], findings, ownsProblems);
  }
  return role;
}

/** Roles in Kamal's order (sorted by name); a plain list is the primary role. */
export function checkServers(raw: unknown, ctx: ServersContext, findings: Findings): RoleConfig[] {
  if (raw === undefined || raw === null) {
    findings.error(['servers'], 'is required');
    return [];
  }
  if (Array.isArray(raw)) {
    if (raw.length === 0) findings.error(['servers'], 'should list at least one server');
    const role = checkRole(ctx.primaryRole, [], ctx, findings);
    role.hosts = checkHosts(raw, ['servers'], ctx.agentPort, findings);
    return [role];
  }
  if (!isPlainObject(raw)) {
    findings.error(['servers'], 'should be a list of hosts or a map of roles');
    return [];
  }
  const names = Object.keys(raw).sort();
  for (const name of names) if (!ROLE_NAME.test(name)) findings.error(['servers', name], 'role names should be lowercase letters, digits, - or _');
  return names.filter((n) => ROLE_NAME.test(n)).map((name) => checkRole(name, raw[name], ctx, findings));
}
