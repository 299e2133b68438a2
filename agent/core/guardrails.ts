// PURE: the agent's own guardrails on what a release may ask Docker for. The
// CLI checks the same things, but the agent's owner decides what runs on the
// host: a manifest signed by any trusted key is still refused here if it would
// hand a container the host (privileged, host namespaces, devices, the Docker
// socket, system paths) or asks for more than the owner allowed with
// `berth-agent run --allow-cap` / `--allow-bind` / `--allow-log-driver`. Run
// when a release is accepted (nothing is committed for a refused one) and
// again when the container is built.
import { posix } from 'node:path';
import { UserError } from '../../shared/errors.js';
import type { AccessorySpec, ManifestPayload } from '../../shared/manifest.js';
import { capabilityName, translateOptions, type OptionValue } from './docker-options.js';
import { isWritable, parseVolume, type VolumeMount } from './volumes.js';
import { describeNestingConflict, findNestingConflict, NESTING_HINT, type HostBind } from './bind-nesting.js';
import { accessoryRestart } from './restart-policy.js';
import { REFUSED_DOCKER_OPTIONS as REFUSED } from '../../shared/docker-guardrails.js';
import { checkLogging, loggingPolicy, type LoggingPolicy } from './logging-policy.js';
import { ALLOW_HOST_CONTROL_FLAG, ALLOW_PUBLISH_FLAG, isHostControlPath, MountSyntaxError, parsePublishList, securityOptRefusal } from '../../shared/docker-mounts.js';
import { optionMounts, roleVolumes } from './option-mounts.js';
import { describeAllowance, NO_PUBLISH, unallowedPort, type PublishAllowance } from './publish-policy.js';

export interface GuardrailPolicy {
  /** Capabilities a role may add (upper case, without CAP_). */
  allowCaps: readonly string[];
  /** Host directories under which bind mounts are allowed. */
  allowBinds: readonly string[];
  /** Paths never mounted, even under an allowed directory, nor any directory holding one. */
  protectedPaths: readonly string[];
  /** Logging drivers, their options and size caps (core/logging-policy.ts). */
  logging: LoggingPolicy;
  /**
   * `<state-dir>/accessories`: where the agent keeps accessories' files and
   * directories. Only the bind guard may mount below it (paths the agent built
   * itself, agent/accessories/data.ts); a manifest's volume or directory there is refused.
   */
  accessoryRoot?: string;
  /**
   * `<state-dir>/assets`: bridged assets (core/assets.ts). Carved out like
   * accessoryRoot; each container gets one `volumes/<version>` leaf, read-only.
   */
  assetRoot?: string;
  /** Host ports releases may publish (--allow-publish); none when absent. */
  allowPublish?: PublishAllowance;
  /**
   * --allow-host-control-mounts: `/`, the Docker socket and the kernel and
   * engine paths (shared/docker-mounts.ts HOST_CONTROL_ROOTS) may be bind-mounted.
   */
  hostControlMounts?: boolean;
  /** The agent's own paths (state dir, backup roots, /var/lib/berth, /etc/berth): never mounted, whatever is allowed. */
  ownPaths?: readonly string[];
  /** The Docker socket the agent uses (and what it resolves to): a host-control path wherever it lies. */
  engineSockets?: readonly string[];
}

/**
 * Where Kamal apps usually keep their files (`/data/storage:/rails/storage`).
 * Anything else needs `--allow-bind`; named volumes need nothing.
 */
export const DEFAULT_ALLOW_BINDS: readonly string[] = ['/data', '/srv'];

/** Mounting any of these (or a directory above one) gives a container the host or the agent. */
export const PROTECTED_PATHS: readonly string[] = [
  '/proc', '/sys', '/dev', '/boot', '/run', '/var/run', '/var/lib/docker', '/var/lib/containerd', '/var/lib/berth', '/etc/berth',
];

export const ALLOW_CAP_FLAG = 'berth-agent run --allow-cap';
const ALLOW_BIND_FLAG = 'berth-agent run --allow-bind';

const NOTHING_ALLOWS = 'no agent setting allows it';


// Only sysctls Docker namespaces per container; others would change the host.
const NAMESPACED_SYSCTL = /^(net\.|kernel\.(msg|sem|shm)|fs\.mqueue\.)/;

/** Berth's own places, protected even from an agent that allows host-control mounts. */
const BERTH_PATHS: readonly string[] = ['/var/lib/berth', '/etc/berth'];

export function guardrailPolicy(
  o: {
    allowCaps?: readonly string[];
    allowBinds?: readonly string[];
    protect?: readonly string[];
    /** The Docker socket the agent uses: protected, but a host-control path like any other. */
    engineSocket?: string;
    logging?: LoggingPolicy;
    accessoryRoot?: string;
    assetRoot?: string;
    allowPublish?: PublishAllowance;
    hostControlMounts?: boolean;
  } = {},
): GuardrailPolicy {
  const own = [...BERTH_PATHS, ...(o.protect ?? []).map(trimPath)];
  return {
    allowCaps: (o.allowCaps ?? []).map(capabilityName),
    allowBinds: (o.allowBinds ?? DEFAULT_ALLOW_BINDS).map(trimPath),
    protectedPaths: [...PROTECTED_PATHS, ...own.slice(BERTH_PATHS.length), ...(o.engineSocket ? [trimPath(o.engineSocket)] : [])],
    logging: o.logging ?? loggingPolicy(),
    ...(o.accessoryRoot ? { accessoryRoot: trimPath(o.accessoryRoot) } : {}),
    ...(o.assetRoot ? { assetRoot: trimPath(o.assetRoot) } : {}),
    allowPublish: o.allowPublish ?? NO_PUBLISH,
    hostControlMounts: o.hostControlMounts === true,
    ownPaths: own,
    engineSockets: o.engineSocket ? [trimPath(o.engineSocket)] : [],
  };
}

function trimPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/$/, '') : n;
}

const within = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(`${dir}/`);

const hostControlPath = (p: string, policy: GuardrailPolicy) => isHostControlPath(p) || (policy.engineSockets ?? []).includes(p);

/**
 * Why a host path may not be mounted, or undefined when it may. `path` is
 * absolute and normalized. `agentData`: the path is one the agent built under
 * policy.accessoryRoot for an accessory or policy.assetRoot for a role's assets
 * (only the bind guard says so); those
 * are allowed although the state dir is protected. That is safe because a
 * container only ever gets a leaf (one file, or one `dirs/<name>`), never a
 * directory above one: no container can plant a symlink on the way to another
 * accessory's path or out of the root, and the agent lstat-checks the leaves.
 */
export function bindRefusal(path: string, policy: GuardrailPolicy, o: { agentData?: boolean } = {}): { reason: string; hint: string } | undefined {
  const p = trimPath(path);
  const root = o.agentData === true ? [policy.accessoryRoot, policy.assetRoot].find((r) => r !== undefined && p.startsWith(`${r}/`)) : undefined;
  const carved = root !== undefined;
  if (policy.hostControlMounts && !carved && hostControlPath(p, policy)) {
    // The owner gave containers the host; Berth's own keys and state stay out of reach except through `/` itself.
    const own = (policy.ownPaths ?? BERTH_PATHS).find((dir) => within(p, dir) || (p !== '/' && within(dir, p)));
    if (own === undefined) return undefined;
    return { reason: `it would give the container the agent's own files (${own})`, hint: NOTHING_ALLOWS };
  }
  // Inside the carve-out only protected paths that hold the root itself (the state dir) are excused.
  const hit = policy.protectedPaths.find((prot) => (within(p, prot) || within(prot, p)) && !(root !== undefined && within(root, prot)));
  if (p === '/' || hit !== undefined) {
    const what = hit === undefined || within(p, hit) ? (hit ?? '/') : `it holds ${hit}`;
    const ownHit = (policy.ownPaths ?? BERTH_PATHS).some((dir) => within(p, dir) || (p !== '/' && within(dir, p)));
    const hint = !carved && hostControlPath(p, policy) && !ownHit ? `start the agent with ${ALLOW_HOST_CONTROL_FLAG} (or BERTH_ALLOW_HOST_CONTROL_MOUNTS=1): it gives containers control of this host` : NOTHING_ALLOWS;
    return { reason: `it would give the container the host (${what})`, hint };
  }
  if (carved) return undefined;
  if (!policy.allowBinds.some((dir) => within(p, dir))) {
    const allowed = policy.allowBinds.length > 0 ? policy.allowBinds.join(', ') : 'none';
    return {
      reason: `it is outside the host directories this agent allows bind mounts under (${allowed})`,
      hint: `use a named volume, or start the agent with ${ALLOW_BIND_FLAG} DIR (or BERTH_ALLOW_BINDS)`,
    };
  }
  return undefined;
}

export function checkVolume(role: string, entry: string, policy: GuardrailPolicy): VolumeMount {
  const v = parseVolume(role, entry);
  if (v.kind === 'bind') {
    const refusal = bindRefusal(v.source, policy);
    if (refusal) {
      throw new UserError(`role ${role}: volume ${JSON.stringify(entry.slice(0, 200))} is refused by this agent's guardrails: ${refusal.reason}`, refusal.hint, 'guardrail_refused');
    }
  }
  return v;
}

function checkOption(role: string, name: string, value: OptionValue, policy: GuardrailPolicy): void {
  const reason = Object.hasOwn(REFUSED, name) ? REFUSED[name] : undefined;
  if (reason !== undefined) {
    throw new UserError(`role ${role}: option ${name} is refused by this agent's guardrails: ${reason}`, NOTHING_ALLOWS, 'guardrail_refused');
  }
  const values = Array.isArray(value) ? value : [String(value)];
  if (name === 'cap-add') {
    for (const cap of values.map(capabilityName)) {
      if (policy.allowCaps.includes(cap)) continue;
      throw new UserError(
        `role ${role}: option cap-add ${cap} is refused by this agent's guardrails: adding a capability needs the server owner's consent`,
        `start the agent with ${ALLOW_CAP_FLAG} ${cap} (or BERTH_ALLOW_CAPS=${cap})`,
        'guardrail_refused',
      );
    }
  }
  // Refusals inside a mount (propagation to the host, driver options that bind host paths) are guardrail refusals.
  if (name === 'mount') optionMounts(role, { mount: value });
  if (name === 'security-opt') {
    const refusal = values.map(securityOptRefusal).find((r) => r !== undefined);
    if (refusal !== undefined) throw new UserError(`role ${role}: option security-opt is refused by this agent's guardrails: ${refusal}`, NOTHING_ALLOWS, 'guardrail_refused');
  }
  if (name === 'publish') {
    const allowance = policy.allowPublish ?? NO_PUBLISH;
    // Malformed values are refused with their reason by translateOptions.
    let ports: ReturnType<typeof parsePublishList> = [];
    try {
      ports = parsePublishList(values);
    } catch {
      return;
    }
    const refused = unallowedPort(ports, allowance);
    if (refused) {
      throw new UserError(
        `role ${role}: option publish ${refused.hostPort}/${refused.protocol} is refused by this agent's guardrails: publishing a host port needs the server owner's consent (this agent allows: ${describeAllowance(allowance)})`,
        `start the agent with ${ALLOW_PUBLISH_FLAG} ${refused.hostPort} (or all; env BERTH_ALLOW_PUBLISH)`,
        'guardrail_refused',
      );
    }
  }
  if (name === 'sysctl') {
    const bad = values.find((v) => !NAMESPACED_SYSCTL.test(v));
    if (bad !== undefined) {
      throw new UserError(
        `role ${role}: option sysctl ${JSON.stringify(bad.slice(0, 100))} is refused by this agent's guardrails: only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) may be set`,
        NOTHING_ALLOWS,
        'guardrail_refused',
      );
    }
  }
}

/** Throws UserError (code `guardrail_refused` for refusals) for the first role setting the policy refuses or Docker would. */
export function checkRole(role: string, spec: ManifestPayload['roles'][string], policy: GuardrailPolicy): void {
  for (const [name, value] of Object.entries(spec.options ?? {})) checkOption(role, name, value, policy);
  // Values docker run would refuse fail here, at acceptance, not halfway through a deploy.
  translateOptions(role, spec.options);
  if (spec.options?.publish !== undefined && (spec.replicas ?? 1) > 1) {
    throw new UserError(
      `role ${role}: option publish cannot be combined with replicas: ${spec.replicas}: only one container can hold a host port`,
      'run one replica per server for a role that publishes ports',
      'guardrail_refused',
    );
  }
  for (const entry of spec.volumes ?? []) checkVolume(role, entry, policy);
  // options.volume/mount may name a container path volumes: already mounts: Docker would refuse the create mid-deploy.
  const targets = new Set((spec.volumes ?? []).map((entry) => mountTarget(role, entry)));
  for (const entry of optionMounts(role, spec.options).volumes) {
    checkVolume(role, entry, policy);
    const target = mountTarget(role, entry);
    if (targets.has(target)) throw new UserError(`role ${role}: two volumes or mounts at ${target.slice(0, 200)}`, 'mount one thing at each container path', 'guardrail_refused');
    targets.add(target);
  }
  checkLogging(role, spec.logging, policy.logging);
}

const mountTarget = (role: string, entry: string) => parseVolume(role, entry).target.replace(/(.)\/$/, '$1');

/**
 * An accessory passes the role checks (options, volumes) and its absolute
 * `directories` are judged like bind volumes; its options.volume/mount are
 * mounted beside its volumes and judged like them, options.publish like a
 * role's. The checks name it as a role; the message is rewritten to name the accessory.
 */
export function checkAccessory(name: string, spec: AccessorySpec, policy: GuardrailPolicy): HostBind[] {
  try {
    // Its restart policy is the accessory's own to choose (checked there); the rest are judged as for roles.
    const { options } = accessoryRestart(name, spec.options);
    for (const [option, value] of Object.entries(options ?? {})) checkOption(name, option, value, policy);
    translateOptions(name, options);
    checkAccessoryPorts(name, spec.port, options?.publish);
    const binds: HostBind[] = [];
    const extra = optionMounts(name, options).volumes;
    for (const entry of [...(spec.volumes ?? []), ...absoluteDirectories(spec), ...extra]) {
      const v = checkVolume(name, entry, policy);
      if (v.kind === 'bind') binds.push({ source: v.source, writable: isWritable(v), holder: `accessory ${name}` });
    }
    // Docker refuses two mounts at one container path; the accessory's own keys could always collide, options are checked.
    const targets = new Set([...spec.files.map((f) => f.target), ...spec.directories.map((d) => d.target), ...(spec.volumes ?? []).map((v) => mountTarget(name, v))].map(trimTarget));
    for (const entry of extra) {
      const target = mountTarget(name, entry);
      if (targets.has(target)) throw new UserError(`role ${name}: two volumes or mounts at ${target.slice(0, 200)}`, 'mount one thing at each container path', 'guardrail_refused');
      targets.add(target);
    }
    return binds;
  } catch (e) {
    if (e instanceof UserError && e.message.startsWith(`role ${name}:`)) {
      throw new UserError(`accessory ${name}:${e.message.slice(`role ${name}:`.length)}`, e.hint, e.code);
    }
    throw e;
  }
}

const trimTarget = (t: string) => posix.normalize(t).replace(/(.)\/$/, '$1');

/** `port:` and options.publish both bind host ports of one container: none twice (Docker would fail the start). */
function checkAccessoryPorts(name: string, port: string | undefined, publish: OptionValue | undefined): void {
  if (port === undefined || publish === undefined) return;
  try {
    parsePublishList([port, ...(Array.isArray(publish) ? publish : [String(publish)])]);
  } catch (e) {
    if (!(e instanceof MountSyntaxError)) throw e;
    throw new UserError(`role ${name}: option publish with its port: key: ${e.message}`, 'publish each host port once', 'guardrail_refused');
  }
}

/** An accessory's `directories` with an absolute host source, as volume strings. */
export function absoluteDirectories(spec: AccessorySpec): string[] {
  return spec.directories.filter((d) => d.source.startsWith('/')).map((d) => `${d.source}:${d.target}`);
}

export function checkRelease(manifest: ManifestPayload, policy: GuardrailPolicy): void {
  const binds: HostBind[] = [];
  for (const name of Object.keys(manifest.accessories ?? {}).sort()) {
    const spec = manifest.accessories?.[name];
    if (spec) binds.push(...checkAccessory(name, spec, policy));
  }
  for (const role of Object.keys(manifest.roles).sort()) {
    const spec = manifest.roles[role];
    if (!spec) continue;
    checkRole(role, spec, policy);
    for (const entry of roleVolumes(role, spec)) {
      const v = parseVolume(role, entry);
      if (v.kind === 'bind') binds.push({ source: v.source, writable: isWritable(v), holder: `role ${role}` });
    }
  }
  // Across roles and accessories too: all of a release runs on this host at once.
  const conflict = findNestingConflict(binds);
  if (conflict) throw new UserError(`${conflict.inner.holder}: volume refused by this agent's guardrails: ${describeNestingConflict(conflict)}`, NESTING_HINT, 'guardrail_refused');
}
