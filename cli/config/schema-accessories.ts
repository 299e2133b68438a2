// `accessories:` (databases, caches…) as Kamal means them; the agent runs them
// (manifest `accessories`). Kamal requires exactly one of host / hosts / role /
// roles / tag / tags. Keys Berth cannot apply are warned about, never silently
// dropped.

import { isValidHostname } from '../address.js';
import { parseImageReference } from '../../shared/image-reference.js';
import { Findings, isPlainObject } from './issues.js';
import { checkAccessoryPublish, checkDockerOptions, checkVolumes } from './options.js';
import { checkEnv } from './schema-env.js';
import { checkAccessoryDirectories, checkAccessoryFiles } from './schema-accessory-paths.js';
import { checkCmd, checkLabels, checkText } from './schema-values.js';
import { checkRegistry } from './schema-registry.js';
import { checkAccessoryProxy } from './schema-accessory-proxy.js';
import type { AccessoryConfig, RegistryConfig } from './types.js';
import type { KeyPath } from './yaml.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/i;
const KEYS = ['service', 'image', 'host', 'hosts', 'role', 'roles', 'tag', 'tags', 'cmd', 'port', 'labels', 'options', 'env', 'files', 'directories', 'volumes', 'registry', 'network', 'proxy'];
const PLACEMENT = ['host', 'hosts', 'role', 'roles', 'tag', 'tags'];
// [ip:]hostPort:containerPort[/proto], IPv6 bind addresses in brackets, or one port.
const PORT = /^(?:(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]):)?(?:\d{1,5}:)?\d{1,5}(?:\/(?:tcp|udp))?$/i;

function nameList(raw: unknown, path: KeyPath, findings: Findings, single: boolean): string[] {
  const list = single ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0 || !list.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 253)) {
    findings.error(path, single ? 'should be a string' : 'should be a list of strings');
    return [];
  }
  return list as string[];
}

// Kamal pulls `registry/server` + image with that registry's login. The agent logs
// in only to the app's registry, so another registry's login is not in force.
function applyAccessoryRegistry(acc: AccessoryConfig, raw: unknown, appRegistry: RegistryConfig | undefined, path: KeyPath, findings: Findings): void {
  const registry = checkRegistry(raw, path, findings);
  if (!registry) return;
  if (registry.server !== undefined && acc.image !== '') {
    const image = `${registry.server}/${acc.image}`;
    try {
      parseImageReference(image);
      acc.image = image;
    } catch (err) {
      findings.error([...path, 'server'], err instanceof Error ? err.message : 'does not make a valid image reference');
    }
  }
  const sameServer = (registry.server ?? 'docker.io') === (appRegistry?.server ?? 'docker.io');
  if (!sameServer && (registry.username !== undefined || registry.password !== undefined)) {
    findings.warn(path, `login not in force: the agent logs in only to the app's registry (${appRegistry?.server ?? 'docker.io'}); it pulls ${acc.image} without one, which works for a public image`);
  }
}

function checkAccessory(service: string, name: string, raw: unknown, appRegistry: RegistryConfig | undefined, findings: Findings): AccessoryConfig | undefined {
  const path = ['accessories', name];
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map');
    return undefined;
  }
  for (const key of Object.keys(raw)) if (!KEYS.includes(key)) findings.error([...path, key], 'unknown key');
  const placement = PLACEMENT.filter((key) => key in raw);
  const hostKeys = placement.filter((k) => k === 'host' || k === 'hosts' || k === 'role' || k === 'roles');
  if (hostKeys.length + placement.filter((k) => k === 'tag' || k === 'tags').length !== 1) {
    findings.error(placement.length ? [...path, placement[1] ?? placement[0] ?? 'host'] : path, 'specify one of host, hosts, role, roles, tag or tags');
  }
  const acc: AccessoryConfig = {
    name,
    service: `${service}-${name}`,
    image: '',
    hosts: [],
    roles: [],
    tags: [],
    env: checkEnv(raw.env, [...path, 'env'], findings, false).env,
    labels: checkLabels(raw.labels, [...path, 'labels'], findings, true),
    options: checkDockerOptions(raw.options, [...path, 'options'], findings, true),
    files: checkAccessoryFiles(raw.files, [...path, 'files'], findings),
    directories: checkAccessoryDirectories(raw.directories, [...path, 'directories'], findings),
    volumes: checkVolumes(raw.volumes, [...path, 'volumes'], findings),
  };
  const image = checkText(raw.image, [...path, 'image'], findings, 512);
  if (image === undefined && raw.image === undefined) findings.error([...path, 'image'], 'is required');
  if (image !== undefined) {
    try {
      parseImageReference(image);
      acc.image = image;
    } catch (err) {
      findings.error([...path, 'image'], err instanceof Error ? err.message : 'is not a valid image reference');
    }
  }
  if ('host' in raw) acc.hosts = nameList(raw.host, [...path, 'host'], findings, true);
  if ('hosts' in raw) acc.hosts = nameList(raw.hosts, [...path, 'hosts'], findings, false);
  acc.hosts.forEach((h, i) => {
    if (!isValidHostname(h)) findings.error([...path, 'hosts' in raw ? 'hosts' : 'host', ...('hosts' in raw ? [i] : [])], `"${h.slice(0, 100)}" is not a hostname or IP address`);
  });
  if ('role' in raw) acc.roles = nameList(raw.role, [...path, 'role'], findings, true);
  if ('roles' in raw) acc.roles = nameList(raw.roles, [...path, 'roles'], findings, false);
  if ('tag' in raw) acc.tags = nameList(raw.tag, [...path, 'tag'], findings, true);
  if ('tags' in raw) acc.tags = nameList(raw.tags, [...path, 'tags'], findings, false);
  const cmd = checkCmd(raw.cmd, [...path, 'cmd'], findings);
  if (cmd) acc.cmd = cmd;
  const port = checkText(raw.port, [...path, 'port'], findings, 64);
  if (port !== undefined) {
    if (!PORT.test(port)) findings.error([...path, 'port'], 'should be PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT');
    else {
      acc.port = port.includes(':') ? port : `${port}:${port}`;
      if (!/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]):/i.test(port)) {
        findings.warn([...path, 'port'], `publishes ${acc.port} on every interface of the host; write 127.0.0.1:${acc.port} to keep it private`);
      }
    }
  }
  checkAccessoryPublish(acc.port, acc.options, path, findings);
  if (raw.network !== undefined) {
    findings.warn([...path, 'network'], `not in force: the agent attaches accessories to its own network, where the app reaches this one as ${acc.service}`);
  }
  if (raw.service !== undefined) {
    const own = checkText(raw.service, [...path, 'service'], findings, 63);
    if (own !== undefined) findings.warn([...path, 'service'], `not in force: the agent names the container itself and the app reaches it as ${acc.service}`);
  }
  if (raw.registry !== undefined) applyAccessoryRegistry(acc, raw.registry, appRegistry, [...path, 'registry'], findings);
  const proxy = checkAccessoryProxy(raw.proxy, [...path, 'proxy'], findings);
  if (proxy) acc.proxy = proxy;
  return acc;
}

export function checkAccessories(service: string, raw: unknown, roleNames: string[], findings: Findings, appRegistry?: RegistryConfig): AccessoryConfig[] {
  if (raw === undefined || raw === null) return [];
  if (!isPlainObject(raw)) {
    findings.error(['accessories'], 'should be a map of name: accessory');
    return [];
  }
  const out: AccessoryConfig[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (!NAME.test(name)) {
      findings.error(['accessories', name], 'accessory names should be letters, digits, - or _');
      continue;
    }
    const acc = checkAccessory(service, name, value, appRegistry, findings);
    if (!acc) continue;
    for (const role of acc.roles) {
      if (!roleNames.includes(role)) findings.error(['accessories', name, 'roles' in (value as object) ? 'roles' : 'role'], `names role ${role}, which servers does not define`);
    }
    out.push(acc);
  }
  return out;
}
