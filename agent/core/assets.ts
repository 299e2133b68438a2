// PURE: where the agent keeps a role's bridged assets (Kamal's asset_path) and
// what it mounts. Per release version two directories:
//   <root>/<service>[@<destination>]/<role>/extracted/<version>  the image's files, as they are
//   <root>/<service>[@<destination>]/<role>/volumes/<version>    what the containers mount (read-only)
// A version's volume holds its own files, the previous release's, and those of
// the release deployed after it, so either side of a switch serves both.
// Names and destinations cannot hold "/" or "@"; a version starts with a letter
// or digit, so no path part is "." or "..".
import { posix } from 'node:path';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { RoleAssets } from '../../shared/manifest-assets.js';
import type { ContainerSpec } from './containers.js';

export function assetRoot(stateDir: string): string {
  return posix.join(stateDir, 'assets');
}

export function assetServiceDir(root: string, m: Pick<ManifestPayload, 'service' | 'destination'>): string {
  return posix.join(root, m.destination ? `${m.service}@${m.destination}` : m.service);
}

export function assetRoleDir(root: string, m: Pick<ManifestPayload, 'service' | 'destination'>, role: string): string {
  return posix.join(assetServiceDir(root, m), role);
}

export function extractedDir(roleDir: string, version: string): string {
  return posix.join(roleDir, 'extracted', version);
}

export function volumeDir(roleDir: string, version: string): string {
  return posix.join(roleDir, 'volumes', version);
}

/** The roles of a release whose assets are bridged. */
export function assetRoles(m: ManifestPayload): Array<{ role: string; assets: RoleAssets }> {
  return Object.entries(m.roles)
    .filter(([, r]) => r.assets !== undefined && r.proxy !== undefined)
    .map(([role, r]) => ({ role, assets: r.assets! }))
    .sort((a, b) => a.role.localeCompare(b.role));
}

/** The bind of a role's container: its version's volume, read-only, at the asset path. */
export function assetBind(root: string, m: ManifestPayload, role: string): string | undefined {
  const r = m.roles[role];
  if (!r?.assets || !r.proxy) return undefined;
  const options = ['ro', ...(r.assets.selinux ? [r.assets.selinux] : [])].join(',');
  return `${volumeDir(assetRoleDir(root, m, role), m.version)}:${r.assets.path}:${options}`;
}

/** The spec of a created container of `role`, with its assets' bind when they are bridged. */
export function withAssetBind(spec: ContainerSpec, root: string | undefined, m: ManifestPayload, role: string): ContainerSpec {
  const bind = root === undefined ? undefined : assetBind(root, m, role);
  if (bind === undefined) return spec;
  return { ...spec, host: { ...spec.host, Binds: [...(spec.host.Binds ?? []), bind] } };
}

/**
 * Versions whose directories go: those no container of the role holds any
 * more (retention removed them), except `keep` (the release being deployed).
 */
export function staleAssetVersions(present: readonly string[], held: ReadonlySet<string>, keep: string): string[] {
  return present.filter((v) => v !== keep && !held.has(v)).sort();
}
