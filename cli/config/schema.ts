// deploy.yml: Kamal 2's keys with Kamal's meaning and defaults, plus Berth's
// own (agent, backups, auto_deploy, bake, cron, notify, replicas; all but agent also
// under x-berth:, see schema-berth.ts, schema-cron.ts, schema-backups.ts and schema-replicas.ts). Every problem names
// its key path and the file:line it was written at; all problems are
// collected, then reported together (cli/config/issues.ts renderIssues).

import { ConfigError } from '../../shared/errors.js';
import { DEFAULT_AGENT_PORT, formatServerAddress, type ServerAddress } from '../address.js';
import { parseImageReference } from '../../shared/image-reference.js';
import { KAMAL_BUILT_INS } from '../kamal-commands.js';
import { Findings, isPlainObject, renderIssues, type Issue, type Locate } from './issues.js';
import { applyKamalCompat } from './kamal.js';
import { checkPublishReplicas, checkVolumes } from './options.js';
import { checkAccessories } from './schema-accessories.js';
import { checkBackups } from './schema-backups.js';
import { checkAutoDeploy, liftBerthKeys, type BerthPaths } from './schema-berth.js';
import { checkCron, checkNotify } from './schema-cron.js';
import { checkEnv } from './schema-env.js';
import { parseProxy, resolveProxy, type ProxyInput } from './schema-proxy.js';
import { checkRegistry, isLocalRegistry } from './schema-registry.js';
import { checkReplicas } from './schema-replicas.js';
import { checkServers, ROLE_NAME } from './schema-servers.js';
import { checkBoolean, checkInteger, checkLabels, checkLogging, checkPathString, checkText } from './schema-values.js';
import type { BootConfig, DeployConfig } from './types.js';
import type { KeyPath } from './yaml.js';

export type * from './types.js';

const SERVICE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ALIAS = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
/** The Kamal release whose configuration format Berth reads. */
export const KAMAL_COMPAT_VERSION = '2.12.0';

const KNOWN = new Set([
  'service', 'image', 'servers', 'proxy', 'env', 'registry', 'volumes', 'labels', 'logging', 'boot', 'deploy_timeout',
  'drain_timeout', 'readiness_delay', 'retain_containers', 'stop_timeout', 'primary_role', 'require_destination',
  'allow_empty_roles', 'aliases', 'minimum_version', 'accessories', 'asset_path', 'error_pages_path', 'secrets_path',
  'agent', 'cron', 'notify', 'backups', 'auto_deploy', 'bake', 'replicas',
]);

export interface ValidatedConfig {
  config: DeployConfig;
  warnings: Issue[];
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function checkBoot(raw: unknown, findings: Findings): BootConfig {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    findings.error(['boot'], 'should be a map with limit, wait and parallel_roles');
    return {};
  }
  for (const key of Object.keys(raw)) if (!['limit', 'wait', 'parallel_roles'].includes(key)) findings.error(['boot', key], 'unknown key');
  // Kamal 2.10: boot a host's roles side by side instead of one after another.
  if (checkBoolean(raw.parallel_roles, ['boot', 'parallel_roles'], findings) !== undefined) {
    findings.warn(['boot', 'parallel_roles'], "not in force: Berth's agent boots all roles of a host as one release whatever this says (their new containers start together, health checks pass role by role, routes switch together)");
  }
  const boot: BootConfig = {};
  if (typeof raw.limit === 'string') {
    const match = /^(\d{1,3})%$/.exec(raw.limit.trim());
    const percent = match ? Number(match[1]) : NaN;
    if (percent >= 1 && percent <= 100) boot.limit = `${percent}%`;
    else findings.error(['boot', 'limit'], 'should be a number of hosts or a percentage like 25%');
  } else if (raw.limit !== undefined && raw.limit !== null) {
    if (typeof raw.limit !== 'number' || !Number.isInteger(raw.limit) || raw.limit < 1 || raw.limit > 10000) findings.error(['boot', 'limit'], 'should be a number of hosts or a percentage like 25%');
    else boot.limit = raw.limit;
  }
  const wait = checkInteger(raw.wait, ['boot', 'wait'], findings, 0, 3600);
  if (wait !== undefined) boot.wait = wait;
  return boot;
}

function checkAgent(raw: unknown, findings: Findings): DeployConfig['agent'] {
  const agent: DeployConfig['agent'] = { port: DEFAULT_AGENT_PORT };
  if (raw === undefined || raw === null) return agent;
  if (!isPlainObject(raw)) {
    findings.error(['agent'], 'should be a map with port, url or known_agents');
    return agent;
  }
  for (const key of Object.keys(raw)) if (!['port', 'url', 'known_agents'].includes(key)) findings.error(['agent', key], 'unknown key');
  agent.port = checkInteger(raw.port, ['agent', 'port'], findings, 1, 65535) ?? DEFAULT_AGENT_PORT;
  const url = checkText(raw.url, ['agent', 'url'], findings, 500);
  if (url !== undefined) {
    if (/^https:\/\/[^\s/?#]+\/?$/.test(url)) agent.url = url.replace(/\/$/, '');
    else findings.error(['agent', 'url'], 'should be an https:// URL with no path, like https://agent.example.com:7443');
  }
  const knownAgents = checkPathString(raw.known_agents, ['agent', 'known_agents'], findings);
  if (knownAgents !== undefined) agent.known_agents = knownAgents;
  return agent;
}

function checkSeconds(input: Record<string, unknown>, key: string, path: KeyPath, findings: Findings, min: number, fallback: number): number {
  return checkInteger(input[key], path, findings, min, 3600) ?? fallback;
}

function imageWithRegistry(image: string, server: string | undefined): string {
  // Kamal joins registry.server and image; an image already naming that server is not prefixed twice.
  if (!server || image.toLowerCase().startsWith(`${server}/`)) return image;
  return `${server}/${image}`;
}

function checkTopLevel(input: Record<string, unknown>, writtenAs: Record<string, string>, berth: BerthPaths, destination: string, findings: Findings): DeployConfig {
  const at = (key: string): KeyPath => [writtenAs[key] ?? key];
  for (const key of Object.keys(input)) if (!KNOWN.has(key)) findings.error([key], 'unknown key');

  const service = checkText(input.service, ['service'], findings, 100);
  if (input.service === undefined || input.service === null) findings.error(['service'], 'is required');
  else if (service !== undefined && !SERVICE.test(service)) findings.error(['service'], 'should be lowercase letters, digits, - or _ (at most 63, starting with a letter or digit)');

  const registry = checkRegistry(input.registry, ['registry'], findings);
  // Kamal: with a local registry (server localhost:PORT) the image defaults to the service name.
  let image = checkText(input.image ?? (isLocalRegistry(registry) ? input.service : undefined), ['image'], findings, 512);
  if (image === undefined && (input.image === undefined || input.image === null)) findings.error(['image'], 'is required');
  if (image !== undefined) {
    image = imageWithRegistry(image, registry?.server);
    try {
      parseImageReference(image);
    } catch (err) {
      findings.error(['image'], err instanceof Error ? err.message : 'is not a valid image reference');
    }
  }

  const primaryRole = checkText(input.primary_role, ['primary_role'], findings, 63) ?? 'web';
  if (!ROLE_NAME.test(primaryRole)) findings.error(['primary_role'], 'should be a role name');
  const agent = checkAgent(input.agent, findings);
  let topProxy: ProxyInput | undefined;
  if (input.proxy !== undefined && input.proxy !== null) {
    if (typeof input.proxy === 'boolean') findings.error(['proxy'], 'should be a map (proxy: false belongs under a role: servers/ROLE/proxy)');
    else topProxy = parseProxy(input.proxy, ['proxy'], findings);
  }
  const roles = checkServers(input.servers, { primaryRole, agentPort: agent.port, topProxy }, findings);
  const { env, tags } = checkEnv(input.env, ['env'], findings, true);
  const allowEmptyRoles = checkBoolean(input.allow_empty_roles, ['allow_empty_roles'], findings) ?? false;

  const servers: ServerAddress[] = [];
  const seen = new Set<string>();
  for (const role of roles) {
    for (const { address } of role.hosts) {
      const key = formatServerAddress(address);
      if (!seen.has(key)) servers.push(address);
      seen.add(key);
    }
  }
  if (input.servers !== undefined && input.servers !== null && !Array.isArray(input.servers) && isPlainObject(input.servers)) {
    const primary = roles.find((r) => r.name === primaryRole);
    // A role whose host entries were refused already has its error; "no servers" would only repeat it.
    const reported = (name: string) => findings.issues.some((i) => i.path[0] === 'servers' && i.path[1] === name);
    if (!primary) findings.error(['servers'], `has no ${primaryRole} role (the primary_role); add it or set primary_role`);
    else if (primary.hosts.length === 0 && !reported(primaryRole)) {
      findings.error(['servers', primaryRole], `no servers specified for the ${primaryRole} primary role${destination ? '' : ' (are its hosts in a destination file? pass -d DESTINATION)'}`);
    }
    if (!allowEmptyRoles) {
      for (const role of roles) {
        if (role.name !== primaryRole && role.hosts.length === 0 && !reported(role.name)) findings.error(['servers', role.name], `no servers specified for the ${role.name} role (allow_empty_roles: true permits this)`);
      }
    }
  }
  const tagNames = new Set(Object.keys(tags));
  for (const role of roles) {
    for (const host of role.hosts) {
      for (const tag of host.tags) if (!tagNames.has(tag)) findings.warn(['servers', role.name], `host ${host.address.host} has tag ${tag}, which env/tags does not define`);
    }
    if (role.proxy && role.proxy.ssl === true && role.hosts.length > 1) {
      findings.warn(['servers', role.name], `role ${role.name} serves SSL on ${role.hosts.length} servers; automatic certificates need each host name to reach the server asking for it (Kamal refuses this unless proxy/ssl names a certificate)`);
    }
  }
  const sslHosts = roles.filter((r) => r.proxy?.ssl).flatMap((r) => r.proxy?.hosts ?? []);
  const shared = sslHosts.filter((h, i) => sslHosts.indexOf(h) !== i);
  if (shared.length) findings.error(['servers'], `different roles can't share the same host for SSL: ${[...new Set(shared)].join(', ')}`);

  const aliases: Record<string, string> = {};
  if (input.aliases !== undefined && input.aliases !== null) {
    if (!isPlainObject(input.aliases)) findings.error(['aliases'], 'should be a map of name: command');
    else {
      for (const [name, value] of Object.entries(input.aliases)) {
        const command = checkText(value, ['aliases', name], findings, 1000);
        if (!ALIAS.test(name)) findings.error(['aliases', name], 'alias names should be letters, digits, - or _');
        else if (KAMAL_BUILT_INS.includes(name)) findings.error(['aliases', name], 'conflicts with a built-in command (Kamal refuses it too)');
        else if (command !== undefined) aliases[name] = command;
      }
    }
  }
  const minimumVersion = checkText(input.minimum_version, ['minimum_version'], findings, 40);
  if (minimumVersion !== undefined) {
    const parts = /^\d+(\.\d+){0,3}$/.test(minimumVersion) ? minimumVersion.split('.').map(Number) : undefined;
    if (!parts) findings.error(['minimum_version'], 'should be a version like 2.0.0');
    else if (compareVersions(parts, KAMAL_COMPAT_VERSION.split('.').map(Number)) > 0) {
      findings.error(['minimum_version'], `requires Kamal ${minimumVersion}; Berth reads configurations of Kamal ${KAMAL_COMPAT_VERSION}`);
    }
  }

  const config: DeployConfig = {
    service: service ?? '',
    image: image ?? '',
    destination,
    servers,
    primary_role: primaryRole,
    roles,
    env,
    env_tags: tags,
    volumes: checkVolumes(input.volumes, ['volumes'], findings),
    labels: checkLabels(input.labels, ['labels'], findings),
    boot: checkBoot(input.boot, findings),
    deploy_timeout: checkSeconds(input, 'deploy_timeout', at('deploy_timeout'), findings, 1, 30),
    drain_timeout: checkSeconds(input, 'drain_timeout', at('drain_timeout'), findings, 0, 30),
    readiness_delay: checkSeconds(input, 'readiness_delay', at('readiness_delay'), findings, 0, 7),
    stop_timeout: checkSeconds(input, 'stop_timeout', at('stop_timeout'), findings, 1, 10),
    retain_containers: checkInteger(input.retain_containers, ['retain_containers'], findings, 1, 100) ?? 5,
    require_destination: checkBoolean(input.require_destination, ['require_destination'], findings) ?? false,
    allow_empty_roles: allowEmptyRoles,
    aliases,
    accessories: checkAccessories(service ?? '', input.accessories, roles.map((r) => r.name), findings, registry),
    agent,
  };
  if (topProxy !== undefined) config.proxy = resolveProxy(topProxy, ['proxy'], findings);
  if (registry) config.registry = registry;
  const logging = checkLogging(input.logging, ['logging'], findings);
  if (logging) config.logging = logging;
  if (minimumVersion !== undefined) config.minimum_version = minimumVersion;
  const bake = checkInteger(input.bake, berth.bake, findings, 1, 3600);
  if (bake !== undefined) config.bake = bake;
  for (const key of ['asset_path', 'error_pages_path', 'secrets_path'] as const) {
    const value = checkPathString(input[key], [key], findings);
    if (value !== undefined) config[key] = value;
  }
  const autoDeploy = checkAutoDeploy(input.auto_deploy, berth.auto_deploy, findings);
  if (autoDeploy) config.auto_deploy = autoDeploy;
  const cron = checkCron(input.cron, berth.cron, findings, roles, primaryRole);
  if (cron && Object.keys(cron).length > 0) config.cron = cron;
  const notify = checkNotify(input.notify, berth.notify, findings);
  if (notify) config.notify = notify;
  if (notify && !config.cron) findings.warn(berth.notify, 'is set but there are no cron jobs, so nothing reports to it (it is sent only with jobs)');
  const backups = checkBackups(input.backups, berth.backups, findings, { roles, primaryRole, accessories: config.accessories, volumes: config.volumes });
  if (backups && Object.keys(backups).length > 0) config.backups = backups;
  const replicas = checkReplicas(input.replicas, berth.replicas, findings, roles, config.accessories.map((a) => a.name));
  if (replicas) config.replicas = replicas;
  checkPublishReplicas(replicas, roles, berth.replicas, findings);
  return config;
}

/** Validates a parsed (and destination-merged) deploy.yml; throws ConfigError listing the problems. */
export function validateConfig(raw: unknown, locate: Locate, destination = ''): ValidatedConfig {
  const findings = new Findings();
  const fail = (): never => {
    throw new ConfigError(renderIssues(findings.issues, locate), `see the deploy.yml reference; the file is ${locate([]).file}`);
  };
  if (!isPlainObject(raw)) {
    findings.error([], raw == null ? 'the file is empty; it needs at least service, image and servers' : 'should be a map of settings');
    return fail();
  }
  const { values, writtenAs } = applyKamalCompat(raw, findings);
  const berth = liftBerthKeys(raw, values, findings);
  const config = checkTopLevel(values, writtenAs, berth, destination, findings);
  if (findings.issues.length > 0) return fail();
  return { config, warnings: findings.warnings };
}
