// PURE: what a release's container for one role looks like — name, labels,
// environment, restart policy, network. The engine hands the result to Docker.
import type { RestartPolicy } from './restart-policy.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { translateOptions, type ConfigOptionFields, type HostOptionFields } from './docker-options.js';
import { checkRole, checkVolume, type GuardrailPolicy } from './guardrails.js';
import { bindString } from './volumes.js';
import { optionMounts, roleVolumes } from './option-mounts.js';

export type Role = ManifestPayload['roles'][string];

export interface LogConfig {
  Type: string;
  Config: Record<string, string>;
}

/** HostConfig fields besides the restart policy and network, in Docker API names. */
export interface HostSettings extends HostOptionFields {
  Binds?: string[];
  /** Published ports (accessories' `port:` only; roles are reached through the router). */
  PortBindings?: Record<string, { HostIp: string; HostPort: string }[]>;
  LogConfig: LogConfig;
}

export interface ContainerSpec {
  name: string;
  image: string;
  cmd?: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  network: string;
  /** Extra names on the network (an accessory's `<service>-<name>`, a role's network-alias). */
  aliases?: string[];
  /** Local-driver options of named volumes the agent creates (NFS mounts from options.mount), by volume name. */
  volumeOptions?: Record<string, Record<string, string>>;
  restartPolicy: RestartPolicy['name'];
  /** on-failure only: how many restarts Docker tries. */
  restartRetries?: number;
  host: HostSettings;
  /** Container Config fields from options (User, WorkingDir, Entrypoint, Healthcheck, ...). */
  config: ConfigOptionFields;
}

export interface ContainerContext {
  deployId: number;
  /** The BERTH_HOST / KAMAL_HOST value: this server's name as the operator knows it. */
  hostname: string;
  network: string;
  /** The role's spec fingerprint (agent/core/fingerprint.ts), for the berth.spec label. */
  fingerprint: string;
  policy: GuardrailPolicy;
}

/** Without a logging: key, logs are capped so an app cannot fill the disk. */
const DEFAULT_LOG_CONFIG: Readonly<LogConfig> = Object.freeze({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });

export const APP_KIND = 'app';


export const LABEL = {
  service: 'berth.service',
  role: 'berth.role',
  release: 'berth.release',
  destination: 'berth.destination',
  kind: 'berth.kind',
  deploy: 'berth.deploy',
  seq: 'berth.seq',
  spec: 'berth.spec',
  /** The agent id: several agents can share an engine, and each sees only its own. */
  agent: 'berth.agent',
} as const;

/** What a container's name is made of; `aud` is the agent the release was signed for, this one. */
export type NamedRelease = Pick<ManifestPayload, 'service' | 'destination' | 'version' | 'aud'>;

/**
 * Kamal's `service-role[-destination]-version`, then a short tag of the agent
 * id, so two agents sharing an engine never want the same name. A role's
 * further replicas add `-2`, `-3`…: the first keeps the name it always had.
 */
export function containerName(m: NamedRelease, role: string, replica = 1): string {
  const name = `${legacyContainerName(m, role)}-${agentTag(m.aud)}`;
  return replica > 1 ? `${name}-${replica}` : name;
}

/** How many containers of the role a release runs on this server. */
export function replicasOf(manifest: ManifestPayload, role: string): number {
  return roleOf(manifest, role).replicas ?? 1;
}

/** The names of all the role's containers of a release, the first replica first. */
export function replicaNames(manifest: ManifestPayload, role: string): string[] {
  return Array.from({ length: replicasOf(manifest, role) }, (_, i) => containerName(manifest, role, i + 1));
}

/** The name agents gave containers before names carried the agent tag. */
export function legacyContainerName(m: Omit<NamedRelease, 'aud'>, role: string): string {
  return [m.service, role, ...(m.destination ? [m.destination] : []), m.version].join('-');
}

/** The first six letters and digits of the agent id: readable, and matches `berth-agent status` by eye. */
export function agentTag(agentId: string): string {
  return agentId.replace(/[^A-Za-z0-9]/g, '').slice(0, 6);
}

/**
 * Whether a container belongs to this agent, by its labels. One without
 * berth.agent was made either by something else than Berth (only a lookup by
 * name finds those, to report the name as taken) or by an agent from before
 * the label: that one is this agent's when `adoptsLegacy` says so.
 */
export function isAgentsContainer(labels: Record<string, string>, agentId: string, adoptsLegacy: (labels: Record<string, string>) => boolean): boolean {
  const owner = labels[LABEL.agent];
  if (owner !== undefined) return owner === agentId;
  if (labels[LABEL.kind] === undefined) return true;
  return adoptsLegacy(labels);
}

/**
 * Whether labels say "this is the container of that release's role". Names are
 * not enough: `a-web` + role `x` and `a` + role `web-x` give the same name.
 */
export function isReleaseContainer(
  labels: Record<string, string>,
  r: { service: string; destination: string; role: string; release: string },
): boolean {
  return (
    labels[LABEL.kind] === APP_KIND &&
    labels[LABEL.service] === r.service &&
    (labels[LABEL.destination] ?? '') === r.destination &&
    labels[LABEL.role] === r.role &&
    labels[LABEL.release] === r.release
  );
}

export function roleOf(manifest: ManifestPayload, role: string): Role {
  const found = Object.hasOwn(manifest.roles, role) ? manifest.roles[role] : undefined;
  if (!found) throw new Error(`role ${role} is not in the manifest of ${manifest.service} ${manifest.version}`);
  return found;
}

export function containerLabels(manifest: ManifestPayload, role: string, ctx: Pick<ContainerContext, 'deployId' | 'fingerprint'>): Record<string, string> {
  return {
    // User labels first: berth.* must never be overridden by a manifest.
    ...(roleOf(manifest, role).labels ?? {}),
    [LABEL.service]: manifest.service,
    [LABEL.role]: role,
    [LABEL.release]: manifest.version,
    [LABEL.destination]: manifest.destination,
    [LABEL.kind]: APP_KIND,
    [LABEL.deploy]: String(ctx.deployId),
    [LABEL.seq]: String(manifest.seq),
    [LABEL.spec]: ctx.fingerprint,
    [LABEL.agent]: manifest.aud,
  };
}

/**
 * `secrets` are the role's unsealed secret values; they go into the
 * environment only. Berth's own variables win over the manifest's so an app
 * can rely on them. The guardrails run again here: a spec is never built from
 * settings the agent refuses, whatever path the manifest took.
 */
export function containerSpec(
  manifest: ManifestPayload,
  role: string,
  ctx: ContainerContext,
  secrets: Record<string, string>,
  replica = 1,
): ContainerSpec {
  const r = roleOf(manifest, role);
  checkRole(role, r, ctx.policy);
  const name = containerName(manifest, role, replica);
  const env: Record<string, string> = {
    ...r.env.clear,
    ...secrets,
    BERTH_SERVICE: manifest.service,
    BERTH_ROLE: role,
    BERTH_RELEASE: manifest.version,
    BERTH_HOST: ctx.hostname,
    BERTH_DESTINATION: manifest.destination,
    KAMAL_VERSION: manifest.version,
    KAMAL_HOST: ctx.hostname,
    KAMAL_CONTAINER_NAME: name,
    KAMAL_DESTINATION: manifest.destination,
  };
  const translated = translateOptions(role, r.options);
  const { volumeOptions } = optionMounts(role, r.options);
  return {
    name,
    image: manifest.image,
    ...(r.cmd ? { cmd: [...r.cmd] } : {}),
    env,
    labels: containerLabels(manifest, role, ctx),
    network: ctx.network,
    ...(translated.aliases?.length ? { aliases: translated.aliases } : {}),
    ...(Object.keys(volumeOptions).length > 0 ? { volumeOptions } : {}),
    restartPolicy: 'unless-stopped',
    host: hostSettings(role, r, ctx.policy),
    config: translated.config,
  };
}

function hostSettings(role: string, r: Role, policy: GuardrailPolicy): HostSettings {
  const binds = roleVolumes(role, r).map((entry) => bindString(checkVolume(role, entry, policy)));
  return {
    ...translateOptions(role, r.options).host,
    ...(binds.length > 0 ? { Binds: binds } : {}),
    LogConfig: logConfig(r),
  };
}

/** The logging of a container without a logging: key (accessories have none). */
export function defaultLogConfig(): LogConfig {
  return { Type: DEFAULT_LOG_CONFIG.Type, Config: { ...DEFAULT_LOG_CONFIG.Config } };
}

/** The role's logging; json-file without a size cap gets the default cap. */
function logConfig(r: Role): LogConfig {
  if (!r.logging) return defaultLogConfig();
  const config = { ...r.logging.options };
  if (r.logging.driver === 'json-file' && config['max-size'] === undefined) {
    config['max-size'] = DEFAULT_LOG_CONFIG.Config['max-size'] ?? '10m';
    config['max-file'] ??= DEFAULT_LOG_CONFIG.Config['max-file'] ?? '3';
  }
  return { Type: r.logging.driver, Config: config };
}
