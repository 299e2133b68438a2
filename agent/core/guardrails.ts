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
import type { ManifestPayload } from '../../shared/manifest.js';
import { capabilityName, translateOptions, type OptionValue } from './docker-options.js';
import { isWritable, parseVolume, type VolumeMount } from './volumes.js';
import { describeNestingConflict, findNestingConflict, NESTING_HINT, type HostBind } from './bind-nesting.js';
import { REFUSED_DOCKER_OPTIONS as REFUSED } from '../../shared/docker-guardrails.js';
import { checkLogging, loggingPolicy, type LoggingPolicy } from './logging-policy.js';

export interface GuardrailPolicy {
  /** Capabilities a role may add (upper case, without CAP_). */
  allowCaps: readonly string[];
  /** Host directories under which bind mounts are allowed. */
  allowBinds: readonly string[];
  /** Paths never mounted, even under an allowed directory, nor any directory holding one. */
  protectedPaths: readonly string[];
  /** Logging drivers, their options and size caps (core/logging-policy.ts). */
  logging: LoggingPolicy;
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

export function guardrailPolicy(
  o: { allowCaps?: readonly string[]; allowBinds?: readonly string[]; protect?: readonly string[]; logging?: LoggingPolicy } = {},
): GuardrailPolicy {
  return {
    allowCaps: (o.allowCaps ?? []).map(capabilityName),
    allowBinds: (o.allowBinds ?? DEFAULT_ALLOW_BINDS).map(trimPath),
    protectedPaths: [...PROTECTED_PATHS, ...(o.protect ?? []).map(trimPath)],
    logging: o.logging ?? loggingPolicy(),
  };
}

function trimPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/$/, '') : n;
}

const within = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(`${dir}/`);

/** Why a host path may not be mounted, or undefined when it may. `path` is absolute and normalized. */
export function bindRefusal(path: string, policy: GuardrailPolicy): { reason: string; hint: string } | undefined {
  const p = trimPath(path);
  const hit = policy.protectedPaths.find((prot) => within(p, prot) || within(prot, p));
  if (p === '/' || hit !== undefined) {
    const what = hit === undefined || within(p, hit) ? (hit ?? '/') : `it holds ${hit}`;
    return { reason: `it would give the container the host (${what})`, hint: NOTHING_ALLOWS };
  }
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
  for (const entry of spec.volumes ?? []) checkVolume(role, entry, policy);
  checkLogging(role, spec.logging, policy.logging);
}

export function checkRelease(manifest: ManifestPayload, policy: GuardrailPolicy): void {
  const binds: HostBind[] = [];
  for (const role of Object.keys(manifest.roles).sort()) {
    const spec = manifest.roles[role];
    if (!spec) continue;
    checkRole(role, spec, policy);
    for (const entry of spec.volumes ?? []) {
      const v = parseVolume(role, entry);
      if (v.kind === 'bind') binds.push({ source: v.source, writable: isWritable(v), holder: `role ${role}` });
    }
  }
  // Across roles too: every role of a release runs on this host at once.
  const conflict = findNestingConflict(binds);
  if (conflict) throw new UserError(`${conflict.inner.holder}: volume refused by this agent's guardrails: ${describeNestingConflict(conflict)}`, NESTING_HINT, 'guardrail_refused');
}
