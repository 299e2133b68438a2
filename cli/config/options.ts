// Guardrails on what deploy.yml may ask Docker for. Role and accessory
// `options:` become `docker run --name value`; only a documented allow-list
// passes, and anything that would give a container the host (privileged, host
// namespaces, devices, the Docker socket) is refused here, before an agent
// refuses it too. Added capabilities are the agent owner's call: a few
// low-risk ones pass with a warning, the rest are refused naming the agent
// option that exists for them. What reaches beyond the container but can be
// judged (volume, mount, publish, network-alias, security-opt) is parsed by
// shared/docker-mounts.ts; host ports and host-control mounts load with one
// warning naming the agent option, as the agent is the one that decides.

import type { Findings } from './issues.js';
import { isPlainObject } from './issues.js';
import type { DockerOptions } from './types.js';
import type { KeyPath } from './yaml.js';
import { REFUSED_DOCKER_OPTIONS as REFUSED } from '../../shared/docker-guardrails.js';
import {
  ALLOW_HOST_CONTROL_FLAG, ALLOW_PUBLISH_FLAG, MountSyntaxError, isHostControlPath, parseMount, parseNetworkAlias, parsePublishList, parseSecurityOpt,
} from '../../shared/docker-mounts.js';

/** docker run options Berth passes through (long names, without `--`). */
export const ALLOWED_OPTIONS: readonly string[] = [
  'add-host', 'cap-add', 'cap-drop', 'cpu-period', 'cpu-quota', 'cpu-shares', 'cpus', 'cpuset-cpus', 'cpuset-mems',
  'dns', 'dns-option', 'dns-search', 'entrypoint', 'expose', 'group-add', 'health-cmd', 'health-interval',
  'health-retries', 'health-start-interval', 'health-start-period', 'health-timeout', 'hostname', 'init', 'memory',
  'memory-reservation', 'memory-swap', 'memory-swappiness', 'mount', 'network-alias', 'no-healthcheck', 'oom-score-adj',
  'pids-limit', 'publish', 'read-only', 'security-opt', 'shm-size', 'stop-signal', 'stop-timeout', 'sysctl', 'tmpfs', 'ulimit',
  'user', 'volume', 'workdir',
];

// docker run's short names Kamal configs use; the manifest carries the long ones.
const SHORT: Record<string, string> = { v: 'volume', p: 'publish' };

/** Options that say nothing without a value. */
const NEEDS_VALUE = new Set(['volume', 'mount', 'publish', 'network-alias']);

// One warning per config for each agent option a config depends on, however many keys use it.
const warnedOnce = new WeakMap<Findings, Set<string>>();
function warnOnce(findings: Findings, path: KeyPath, flag: string, message: string): void {
  const seen = warnedOnce.get(findings) ?? new Set<string>();
  warnedOnce.set(findings, seen);
  if (seen.has(flag)) return;
  seen.add(flag);
  findings.warn(path, message);
}

function warnHostControl(findings: Findings, path: KeyPath, source: string): void {
  warnOnce(findings, path, ALLOW_HOST_CONTROL_FLAG,
    `mounting ${source} gives the container control of the host; agents refuse it unless started with ${ALLOW_HOST_CONTROL_FLAG}`);
}

/** The options judged by shared/docker-mounts.ts: errors name the key, host-reaching ones warn. */
function checkReaching(key: string, texts: string[], at: KeyPath, findings: Findings): boolean {
  try {
    if (key === 'security-opt') texts.forEach(parseSecurityOpt);
    if (key === 'network-alias') texts.forEach(parseNetworkAlias);
    if (key === 'publish') {
      parsePublishList(texts);
      warnOnce(findings, at, ALLOW_PUBLISH_FLAG, `publishes host ports; agents refuse the release unless started with ${ALLOW_PUBLISH_FLAG} (naming the ports, or all)`);
    }
    if (key === 'mount') {
      for (const text of texts) {
        const m = parseMount(text);
        if (m.type !== 'bind') continue;
        const source = bindSource(m.volume);
        if (isHostControlPath(source)) warnHostControl(findings, at, source);
        else if (forbiddenSource(source)) throw new MountSyntaxError(`mounting ${source} is refused by Berth's guardrails: it would give the container the host`);
      }
    }
  } catch (e) {
    if (!(e instanceof MountSyntaxError)) throw e;
    findings.error(at, e.message);
    return false;
  }
  if (key === 'volume') return checkVolumes(texts, at, findings, { single: true }).length === texts.length;
  return true;
}

const bindSource = (volume: string) => normalize(volume.split(':')[0] ?? '');
const normalize = (p: string) => p.replace(/\/+/g, '/').replace(/\/\.(?=\/|$)/g, '').replace(/(.)\/$/, '$1');

const AGENT_CAP_OPTION = 'berth-agent run --allow-cap';

// Adding these changes little: most are in Docker's default set already; SYS_NICE
// and IPC_LOCK are what database images ask for.
const LOW_RISK_CAPS = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'IPC_LOCK', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT', 'SYS_NICE',
]);


const MAX_OPTION_VALUE = 1024;
const MAX_LIST = 50;

function optionValue(value: unknown): string | true | string[] | undefined {
  if (value === true) return true;
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.length <= MAX_LIST && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.map(String);
  return undefined;
}

function checkCapabilities(values: string[], path: KeyPath, findings: Findings): void {
  for (const raw of values) {
    const cap = raw.toUpperCase().replace(/^CAP_/, '');
    if (!/^[A-Z_]{2,32}$/.test(cap)) {
      findings.error(path, `"${raw.slice(0, 40)}" is not a capability name`);
    } else if (cap === 'ALL' || !LOW_RISK_CAPS.has(cap)) {
      findings.error(path, `adding ${cap} is refused by Berth's guardrails; it needs the server owner's consent (${AGENT_CAP_OPTION} ${cap} on the agent)`);
    } else {
      findings.warn(path, `${cap} is added only on agents that allow it (${AGENT_CAP_OPTION} ${cap}); others refuse the release`);
    }
  }
}

/**
 * A user-defined network by name (Kamal apps share one, e.g. `network: scout_shared`,
 * to reach each other). Not `host`/`none`/`container:…`, which stay refused.
 */
function sharedNetwork(value: unknown): boolean {
  return typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(value) && value !== 'host' && value !== 'none';
}

/** `options:` of a role (`restartAllowed` false, as in Kamal) or an accessory. */
export function checkDockerOptions(raw: unknown, path: KeyPath, findings: Findings, restartAllowed: boolean): DockerOptions {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    findings.error(path, 'should be a map of docker run options');
    return {};
  }
  const out: DockerOptions = {};
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(raw)) {
    const at = [...path, name];
    const bare = name.replace(/^--?/, '');
    const key = Object.hasOwn(SHORT, bare) ? (SHORT[bare] ?? bare) : bare;
    if (seen.has(key)) {
      findings.error(at, `repeats ${key}: give one key with a list of values`);
      continue;
    }
    seen.add(key);
    if ((key === 'network' || key === 'net') && sharedNetwork(value)) {
      findings.warn(at, `${String(value)}: not in force: containers join this agent's own network, which every app and accessory on the agent shares, so they reach each other there (by container name and network-alias) as on a shared Docker network`);
      continue;
    }
    const refusal = Object.hasOwn(REFUSED, key) ? REFUSED[key] : undefined;
    if (key === 'restart') {
      if (restartAllowed) out[key] = String(value);
      else findings.error(at, 'cannot be set: the agent runs app containers with restart policy unless-stopped (as Kamal requires)');
      continue;
    }
    if (refusal !== undefined) {
      findings.error(at, `is refused by Berth's guardrails: ${refusal}`);
      continue;
    }
    if (!ALLOWED_OPTIONS.includes(key)) {
      findings.error(at, `is not a docker run option Berth passes on; allowed: ${ALLOWED_OPTIONS.join(', ')}, and restart for accessories`);
      continue;
    }
    const parsed = optionValue(value);
    const texts = parsed === undefined || parsed === true ? [] : Array.isArray(parsed) ? parsed : [parsed];
    if (parsed === undefined || texts.some((t) => t.length > MAX_OPTION_VALUE || /[\0\n\r]/.test(t))) {
      findings.error(at, 'should be a string, a number, true, or a list of strings (one line each)');
      continue;
    }
    if (parsed === true && NEEDS_VALUE.has(key)) {
      findings.error(at, 'needs a value');
      continue;
    }
    if (!checkReaching(key, texts, at, findings)) continue;
    if (key === 'cap-add') checkCapabilities(texts, at, findings);
    if (key === 'sysctl' && texts.some((t) => !/^(net\.|kernel\.(msg|sem|shm)|fs\.mqueue\.)/.test(t))) {
      findings.error(at, 'only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) may be set');
      continue;
    }
    out[key] = parsed;
  }
  return out;
}

// Mounting these hands the container the host.
const FORBIDDEN_SOURCES = [/^\/$/, /^\/(var\/)?run\/docker\.sock$/, /^\/(var\/)?run(\/?$|\/docker)/, /^\/proc(\/|$)/, /^\/sys(\/|$)/, /^\/dev(\/|$)/, /^\/boot(\/|$)/, /^\/etc\/?$/, /^\/root\/?$/, /^\/var\/lib\/docker(\/|$)/, /^\/var\/lib\/berth(\/|$)/];

/** True when mounting host path `source` would give the container the host. */
export function forbiddenSource(source: string): boolean {
  const normalized = source.replace(/\/+/g, '/').replace(/\/\.(?=\/|$)/g, '');
  return source.includes('..') || FORBIDDEN_SOURCES.some((re) => re.test(normalized));
}

/**
 * `SOURCE:TARGET[:OPTS]` volume strings; sources that give away the host are
 * refused, except the host-control ones an agent may allow (one warning).
 * `single`: the entries are one option's values, reported at `path` itself.
 */
export function checkVolumes(raw: unknown, path: KeyPath, findings: Findings, o: { single?: boolean } = {}): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    findings.error(path, 'should be a list of volumes like /host/path:/container/path');
    return [];
  }
  if (raw.length > MAX_LIST) findings.error(path, `should have at most ${MAX_LIST} items`);
  const out: string[] = [];
  raw.slice(0, MAX_LIST).forEach((entry, i) => {
    const at = o.single ? path : [...path, i];
    if (typeof entry !== 'string' || entry.length === 0 || entry.length > MAX_OPTION_VALUE || /[\0\n\r]/.test(entry)) {
      findings.error(at, 'should be a volume like /host/path:/container/path');
      return;
    }
    const [source = '', target] = entry.split(':');
    if (target === undefined || target === '') {
      findings.error(at, 'should be SOURCE:TARGET (a volume without a target would be an anonymous volume)');
      return;
    }
    if (source.startsWith('/') && !source.includes('..') && isHostControlPath(normalize(source))) {
      warnHostControl(findings, at, normalize(source));
    } else if (forbiddenSource(source)) {
      findings.error(at, `mounting ${source} is refused by Berth's guardrails: it would give the container the host`);
      return;
    }
    out.push(entry);
  });
  return out;
}

/** A role that publishes host ports runs one container per server: two cannot hold the same host port. */
export function checkPublishReplicas(replicas: Record<string, number> | undefined, roles: readonly { name: string; options: DockerOptions }[], path: KeyPath, findings: Findings): void {
  for (const role of roles) {
    const count = replicas?.[role.name];
    if (count !== undefined && count > 1 && Object.hasOwn(role.options, 'publish')) {
      findings.error([...path, role.name], `role ${role.name} publishes host ports (options.publish), so it runs one container per server, not ${count}`);
    }
  }
}

/** An accessory's `port:` and options.publish bind host ports of one container: Docker would fail the start on one twice. */
export function checkAccessoryPublish(port: string | undefined, options: DockerOptions, path: KeyPath, findings: Findings): void {
  const publish = options.publish;
  if (port === undefined || publish === undefined || publish === true) return;
  try {
    parsePublishList([port, ...(Array.isArray(publish) ? publish : [publish])]);
  } catch (e) {
    if (!(e instanceof MountSyntaxError)) throw e;
    findings.error([...path, 'options', 'publish'], `${e.message} (with port:): publish each host port once`);
  }
}
