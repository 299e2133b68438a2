// PURE: what an accessory's container looks like (Kamal's accessories: a
// database or cache beside the app), where the agent keeps its files and
// directories, and what differs between a running one and the current
// release. An accessory is never replaced by a deploy, so its berth.spec label
// carries a per-field summary (keyed digests, never a value) from which
// `changes` can name what differs: `image`, `env DB_PASSWORD`, `file /etc/my.cnf`.
import { createHmac } from 'node:crypto';
import { posix } from 'node:path';
import type { AccessorySpec, ManifestPayload } from '../../shared/manifest.js';
import { agentTag, defaultLogConfig, LABEL, type ContainerSpec } from './containers.js';
import { translateOptions } from './docker-options.js';
import { checkAccessory, checkVolume, type GuardrailPolicy } from './guardrails.js';
import { accessoryRestart } from './restart-policy.js';
import { optionMounts } from './option-mounts.js';
import { bindString } from './volumes.js';

export const ACCESSORY_KIND = 'accessory';
export const ACCESSORY_LABEL = 'berth.accessory';

export type AccessoryRelease = Pick<ManifestPayload, 'service' | 'destination' | 'aud'>;

/** Unsealed values of one accessory: env secrets by name, file contents by target. */
export interface AccessorySecrets {
  env: Record<string, string>;
  files: Record<string, string>;
}

export function accessoryRoot(stateDir: string): string {
  return posix.join(stateDir, 'accessories');
}

/** `<root>/<service>[@<destination>]/<accessory>`: names and destinations cannot hold "/" or "@". */
export function accessoryBase(root: string, m: Pick<ManifestPayload, 'service' | 'destination'>, accessory: string): string {
  return posix.join(root, m.destination ? `${m.service}@${m.destination}` : m.service, accessory);
}

/** Where a file is kept on the host: its container path below `files`. */
export function fileHostPath(base: string, target: string): string {
  return posix.join(base, 'files', posix.normalize(target));
}

export function dirHostPath(base: string, name: string): string {
  return posix.join(base, 'dirs', name);
}

export function accessoryOf(m: ManifestPayload, name: string): AccessorySpec | undefined {
  return m.accessories && Object.hasOwn(m.accessories, name) ? m.accessories[name] : undefined;
}

export function accessoryContainerName(m: AccessoryRelease, name: string): string {
  return [m.service, name, ...(m.destination ? [m.destination] : []), agentTag(m.aud)].join('-');
}

/** Kamal's name for it: the app reaches it by this host name. */
export function accessoryHost(service: string, name: string): string {
  return `${service}-${name}`;
}

/** Host directories it mounts: the kept ones, then absolute ones. */
export function accessoryDirectories(base: string, spec: AccessorySpec): string[] {
  return spec.directories.map((d) => (d.source.startsWith('/') ? d.source : dirHostPath(base, d.source)));
}

/** `[IP:]HOST:CONTAINER[/proto]` as Docker's ExposedPorts and PortBindings. */
export function portBinding(port: string): { key: string; hostIp: string; hostPort: string } {
  const [spec = '', proto = 'tcp'] = port.split('/');
  const m = /^(?:(\[[0-9a-fA-F:]+\]|[\d.]+):)?(\d+):(\d+)$/.exec(spec);
  if (!m) throw new Error(`internal: port ${port} passed the manifest check but does not parse`);
  return { key: `${m[3]}/${proto}`, hostIp: (m[1] ?? '').replace(/^\[|\]$/g, ''), hostPort: m[2] ?? '' };
}

const digest = (key: Uint8Array, value: unknown) => createHmac('sha256', key).update(JSON.stringify(value ?? null)).digest('hex').slice(0, 16);

/** The berth.spec label: what each setting is, as digests (image and port in clear: they are shown anyway). */
export function accessorySummary(spec: AccessorySpec, secrets: AccessorySecrets, key: Uint8Array): string {
  const env: Record<string, string> = {};
  for (const [n, v] of Object.entries({ ...spec.env.clear, ...secrets.env }).sort(([a], [b]) => a.localeCompare(b))) env[n] = digest(key, v);
  const files: Record<string, string> = {};
  for (const f of [...spec.files].sort((a, b) => a.target.localeCompare(b.target))) {
    files[f.target] = digest(key, [secrets.files[f.target] ?? '', f.mode, f.owner ?? '']);
  }
  return JSON.stringify({
    v: 1,
    image: spec.image,
    cmd: digest(key, spec.cmd),
    port: spec.port ?? null,
    env,
    files,
    directories: digest(key, spec.directories),
    volumes: digest(key, spec.volumes ?? []),
    options: digest(key, spec.options ?? {}),
    labels: digest(key, spec.labels ?? {}),
  });
}

type Summary = { image?: unknown; cmd?: unknown; port?: unknown; env?: Record<string, unknown>; files?: Record<string, unknown> } & Record<string, unknown>;

function parseSummary(json: string | undefined): Summary | undefined {
  try {
    const s: unknown = JSON.parse(json ?? '');
    return s !== null && typeof s === 'object' && !Array.isArray(s) ? (s as Summary) : undefined;
  } catch {
    return undefined;
  }
}

const keyedDiff = (what: string, a: Record<string, unknown> = {}, b: Record<string, unknown> = {}) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().filter((k) => a[k] !== b[k]).map((k) => `${what} ${k}`);

/**
 * What differs between a running accessory (its berth.spec label) and the
 * new summary: setting names, `env NAME`, `file TARGET`; never a value. A
 * label that is not a summary (made by something else) differs in `spec`.
 */
export function accessoryChanges(runningSpecJson: string | undefined, newSpecJson: string): string[] {
  const was = parseSummary(runningSpecJson);
  const now = parseSummary(newSpecJson) ?? {};
  if (!was || was.v !== now.v) return ['spec'];
  const out: string[] = [];
  for (const field of ['image', 'cmd', 'port'] as const) if (was[field] !== now[field]) out.push(field);
  out.push(...keyedDiff('env', was.env, now.env), ...keyedDiff('file', was.files, now.files));
  for (const field of ['directories', 'volumes', 'options', 'labels'] as const) if (was[field] !== now[field]) out.push(field);
  return out;
}

export interface AccessoryContext {
  network: string;
  policy: GuardrailPolicy;
  /** accessoryBase(): the host directory the agent keeps this accessory's files and directories in. */
  base: string;
  /** accessorySummary(), for the berth.spec label. */
  summary: string;
}

/** The container of accessory `name`; the guardrails run again, as for roles. */
export function accessoryContainerSpec(m: ManifestPayload, name: string, ctx: AccessoryContext, env: Record<string, string>): ContainerSpec {
  const a = accessoryOf(m, name);
  if (!a) throw new Error(`accessory ${name} is not in the manifest of ${m.service} ${m.version}`);
  checkAccessory(name, a, ctx.policy);
  const restart = accessoryRestart(name, a.options);
  const options = translateOptions(name, restart.options);
  const mounts = optionMounts(name, restart.options);
  const binds = [
    ...a.files.map((f) => `${fileHostPath(ctx.base, f.target)}:${f.target}:ro`),
    ...a.directories.map((d) => `${d.source.startsWith('/') ? posix.normalize(d.source) : dirHostPath(ctx.base, d.source)}:${d.target}`),
    ...[...(a.volumes ?? []), ...mounts.volumes].map((v) => bindString(checkVolume(name, v, ctx.policy))),
  ];
  const port = a.port === undefined ? undefined : portBinding(a.port);
  // options.publish and port: bind different host ports (checkAccessory), possibly of one container port.
  const ports = { ...options.host.PortBindings };
  if (port) ports[port.key] = [...(ports[port.key] ?? []), { HostIp: port.hostIp, HostPort: port.hostPort }];
  return {
    name: accessoryContainerName(m, name),
    image: a.image,
    ...(a.cmd ? { cmd: [...a.cmd] } : {}),
    env: { ...a.env.clear, ...env },
    labels: {
      // User labels first: berth.* must never be overridden by a manifest.
      ...(a.labels ?? {}),
      [LABEL.service]: m.service,
      [LABEL.destination]: m.destination,
      [LABEL.kind]: ACCESSORY_KIND,
      [ACCESSORY_LABEL]: name,
      [LABEL.spec]: ctx.summary,
      [LABEL.agent]: m.aud,
    },
    network: ctx.network,
    aliases: [...new Set([accessoryHost(m.service, name), ...(options.aliases ?? [])])],
    ...(Object.keys(mounts.volumeOptions).length > 0 ? { volumeOptions: mounts.volumeOptions } : {}),
    restartPolicy: restart.restart.name,
    ...(restart.restart.maxRetries !== undefined ? { restartRetries: restart.restart.maxRetries } : {}),
    host: {
      ...options.host,
      ...(binds.length > 0 ? { Binds: binds } : {}),
      ...(Object.keys(ports).length > 0 ? { PortBindings: ports } : {}),
      LogConfig: defaultLogConfig(),
    },
    config: { ...options.config, ...(port ? { ExposedPorts: { ...options.config.ExposedPorts, [port.key]: {} } } : {}) },
  };
}
