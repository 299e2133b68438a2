// PURE: a role's asset bridging (Kamal's `asset_path`, feature roles.assets.v1).
// The agent copies the directory out of each release's image and mounts, at
// that path, a host directory holding the release's assets and the previous
// release's, so during a switch old and new containers both serve old and new
// fingerprinted file names.
import { z } from 'zod';
import { ConfigError } from './errors.js';

const ASSET_PATH = /^\/[^\x00-\x1f\x7f:,]{0,1023}$/;
/** Mount options Kamal passes through that Berth honours; the mount is always read-only. */
const OPTIONS = new Set(['ro', 'z', 'Z']);

export const assetsSchema = z.strictObject({
  /** Absolute directory in the container, not `/`, without `..`. */
  path: z
    .string()
    .regex(ASSET_PATH, 'must be an absolute path in the container, without ":" or ","')
    .refine((p) => p !== '/' && !p.split('/').includes('..'), 'must not be "/" nor contain ".."'),
  /** SELinux relabelling of the host directory (Docker's `z` / `Z`). */
  selinux: z.enum(['z', 'Z']).optional(),
});

export type RoleAssets = z.infer<typeof assetsSchema>;

/**
 * Kamal's `asset_path: PATH[:OPTIONS]` as the manifest carries it. `ro` is
 * accepted and changes nothing: Berth always mounts the directory read-only,
 * so no container can write where the agent copies the next release's files.
 */
export function parseAssetPath(raw: string, where: string): RoleAssets {
  const colon = raw.indexOf(':');
  const path = (colon === -1 ? raw : raw.slice(0, colon)).replace(/\/+$/, '') || '/';
  const options = colon === -1 ? [] : raw.slice(colon + 1).split(',').filter((o) => o !== '');
  const checked = assetsSchema.shape.path.safeParse(path);
  if (!checked.success) {
    throw new ConfigError(`${where}: ${JSON.stringify(raw.slice(0, 200))} ${checked.error.issues[0]?.message ?? 'is not a container path'}`, 'name the assets directory in the image, e.g. /rails/public/assets');
  }
  const unknown = options.find((o) => !OPTIONS.has(o));
  if (unknown !== undefined) {
    throw new ConfigError(`${where}: mount option ${JSON.stringify(unknown.slice(0, 50))} is not supported`, 'use ro, z or Z (the directory is mounted read-only in any case)');
  }
  if (options.includes('z') && options.includes('Z')) throw new ConfigError(`${where}: give z or Z, not both`);
  const selinux = options.find((o): o is 'z' | 'Z' => o === 'z' || o === 'Z');
  return { path, ...(selinux ? { selinux } : {}) };
}
