// The guardrails judge bind mounts by the path written in the manifest; Docker
// follows symlinks on the host. A container allowed to write under /data could
// plant /data/x -> /var/run/docker.sock for the next release to mount, so the
// path is resolved on the host and judged again right before the container is
// created.
import { realpath as fsRealpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { UserError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { containerSpec, type ContainerContext, type ContainerSpec } from '../core/containers.js';
import { bindRefusal, type GuardrailPolicy } from '../core/guardrails.js';

export type Realpath = (path: string) => Promise<string>;

/** The path the host would mount: the deepest existing ancestor resolved, the missing rest appended (Docker creates it). */
export async function resolveHostPath(path: string, realpath: Realpath = fsRealpath): Promise<string> {
  let existing = path;
  const missing: string[] = [];
  for (;;) {
    try {
      return posix.join(await realpath(existing), ...missing);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || existing === '/') throw err;
      missing.unshift(posix.basename(existing));
      existing = posix.dirname(existing);
    }
  }
}

/**
 * `binds` as built by containerSpec (HostConfig.Binds). Host paths come back
 * resolved, so Docker mounts what was judged; a path that resolves somewhere
 * the guardrails refuse throws.
 */
/**
 * An allowed directory may itself be a symlink (/data -> /mnt/disk1/data): what it resolves to is allowed too.
 * So may a protected one (a state dir or backup root on another disk): what it resolves to is protected too.
 */
export async function hostPolicy(policy: GuardrailPolicy, realpath: Realpath = fsRealpath): Promise<GuardrailPolicy> {
  const roots = await Promise.all(policy.allowBinds.map((dir) => resolveHostPath(dir, realpath).catch(() => dir)));
  const guarded = await Promise.all(policy.protectedPaths.map((dir) => resolveHostPath(dir, realpath).catch(() => dir)));
  const accessoryRoot = policy.accessoryRoot && (await resolveHostPath(policy.accessoryRoot, realpath).catch(() => policy.accessoryRoot));
  const assetRoot = policy.assetRoot && (await resolveHostPath(policy.assetRoot, realpath).catch(() => policy.assetRoot));
  const own = await Promise.all((policy.ownPaths ?? []).map((dir) => resolveHostPath(dir, realpath).catch(() => dir)));
  const sockets = await Promise.all((policy.engineSockets ?? []).map((s) => resolveHostPath(s, realpath).catch(() => s)));
  return {
    ...policy,
    ...(policy.ownPaths ? { ownPaths: [...new Set([...policy.ownPaths, ...own])] } : {}),
    ...(policy.engineSockets ? { engineSockets: [...new Set([...policy.engineSockets, ...sockets])] } : {}),
    allowBinds: [...new Set([...policy.allowBinds, ...roots])],
    protectedPaths: [...new Set([...policy.protectedPaths, ...guarded])],
    ...(accessoryRoot ? { accessoryRoot } : {}),
    ...(assetRoot ? { assetRoot } : {}),
  };
}

export async function resolveBinds(role: string, binds: readonly string[], policy: GuardrailPolicy, realpath: Realpath = fsRealpath): Promise<string[]> {
  const resolvedPolicy = await hostPolicy(policy, realpath);
  const out: string[] = [];
  for (const bind of binds) {
    if (!bind.startsWith('/')) {
      out.push(bind); // a named volume: Docker's own directory, nothing to resolve
      continue;
    }
    const [source = '', ...rest] = bind.split(':');
    const resolved = await resolveHostPath(source, realpath);
    const refusal = resolved === source ? undefined : bindRefusal(resolved, resolvedPolicy);
    if (refusal) {
      throw new UserError(
        `role ${role}: volume ${source} is refused by this agent's guardrails: it resolves to ${resolved} on this host and ${refusal.reason}`,
        refusal.hint,
        'guardrail_refused',
      );
    }
    out.push([resolved, ...rest].join(':'));
  }
  return out;
}

/** containerSpec with its bind mounts resolved on this host and judged again: how every container Berth creates is specified. */
export async function hostContainerSpec(
  manifest: ManifestPayload,
  role: string,
  ctx: ContainerContext,
  secrets: Record<string, string>,
  replica = 1,
): Promise<ContainerSpec> {
  const spec = containerSpec(manifest, role, ctx, secrets, replica);
  if (spec.host.Binds) spec.host.Binds = await resolveBinds(role, spec.host.Binds, ctx.policy);
  return spec;
}
