// Asset bridging (Kamal's asset_path), the deploy's assets phase and its
// clean-up. Before the new containers start, per bridged role: the asset
// directory is copied out of the new image once per version; the new
// version's volume gets its files and the live release's; the live release's
// volume gets the new files. So while the router moves traffic, old and new
// containers both answer for old and new fingerprinted names. Directory
// layout: agent/core/assets.ts.
import { randomBytes } from 'node:crypto';
import { readdir, realpath, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import { errorText, UserError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { assetBind, assetRoot, assetRoleDir, assetRoles, assetServiceDir, extractedDir, staleAssetVersions, volumeDir } from '../core/assets.js';
import { agentTag, APP_KIND, LABEL, type ContainerSpec } from '../core/containers.js';
import type { DockerPort } from '../docker.js';
import { extractInto, mergeMissing, pathExists } from './assets-files.js';
import type { EngineDeps } from './types.js';

/** The asset root as the host resolves it: binds must name resolved paths (bind-guard.ts). */
export async function hostAssetRoot(stateDir: string): Promise<string> {
  return assetRoot(await realpath(stateDir));
}

/** The deploy's assets phase; returns the asset root, or undefined for a release without bridged roles. */
export async function bridgeAssets(deps: EngineDeps, m: ManifestPayload, say: (message: string) => void): Promise<string | undefined> {
  const roles = assetRoles(m);
  if (roles.length === 0) return undefined;
  const root = await hostAssetRoot(deps.config.stateDir);
  const live = deps.store.current(m.service, m.destination)?.version;
  for (const { role, assets } of roles) {
    const dir = assetRoleDir(root, m, role);
    const mine = extractedDir(dir, m.version);
    if (!(await pathExists(mine))) {
      const r = await extractFromImage(deps.docker, m, role, assets.path, mine);
      say(`${role}: copied ${r.files} asset files (${r.bytes} bytes) out of ${assets.path}${r.skipped ? `; ${r.skipped} links or special files left out` : ''}`);
    }
    const volume = volumeDir(dir, m.version);
    await mergeMissing(mine, volume);
    if (live === undefined || live === m.version) continue;
    // Both ways, never overwriting: a name present in both keeps each side's own file.
    const fromLive = await mergeMissing(extractedDir(dir, live), volume);
    const toLive = (await pathExists(volumeDir(dir, live))) ? await mergeMissing(mine, volumeDir(dir, live)) : 0;
    say(`${role}: assets bridged with ${live} (${fromLive} of its files added here, ${toLive} of these added to it)`);
  }
  return root;
}

async function extractFromImage(docker: DockerPort, m: ManifestPayload, role: string, path: string, dest: string) {
  const spec: ContainerSpec = {
    name: `${m.service}-${role}-assets-${randomBytes(4).toString('hex')}-${agentTag(m.aud)}`,
    image: m.image,
    // Never started: the container only lends its filesystem to the archive call.
    cmd: ['/berth-never-runs'],
    env: {},
    labels: { [LABEL.kind]: 'assets', [LABEL.service]: m.service, [LABEL.destination]: m.destination, [LABEL.role]: role },
    network: 'none',
    restartPolicy: 'no',
    host: { LogConfig: { Type: 'none', Config: {} } },
    config: {},
  };
  const id = await docker.createContainer(spec);
  try {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await docker.getArchive(id, `${path}/.`);
    } catch (err) {
      throw new UserError(`role ${role}: asset_path ${path} cannot be read in the image: ${errorText(err)}`, 'asset_path must name a directory the image holds, e.g. /rails/public/assets');
    }
    return await extractInto(archive, dest, `role ${role}: asset_path ${path}`);
  } finally {
    await docker.remove(id, { force: true }).catch(() => undefined);
  }
}

/**
 * After retention: every version's directories go once no container of the
 * role holds that version any more (the rolled-back-to release keeps its own
 * as long as its container is retained). Failures are events only.
 */
export async function pruneAssets(deps: EngineDeps, deployId: number, m: ManifestPayload): Promise<void> {
  const root = await hostAssetRoot(deps.config.stateDir).catch(() => undefined);
  if (root === undefined) return;
  const serviceDir = assetServiceDir(root, m);
  const roles = await readdir(serviceDir).catch(() => [] as string[]);
  if (roles.length === 0) return;
  try {
    const containers = await deps.docker.listContainers({ [LABEL.service]: m.service, [LABEL.destination]: m.destination, [LABEL.kind]: APP_KIND }, true);
    for (const role of roles) {
      const held = new Set(containers.filter((c) => c.labels[LABEL.role] === role).map((c) => c.labels[LABEL.release] ?? ''));
      const dir = assetRoleDir(root, m, role);
      const present = new Set([...(await readdir(posix.join(dir, 'extracted')).catch(() => [])), ...(await readdir(posix.join(dir, 'volumes')).catch(() => []))]);
      // Unfinished extractions (".<version>.<hex>.tmp") of a crashed run go too.
      const stale = staleAssetVersions([...present], held, m.version);
      for (const v of stale) {
        await rm(extractedDir(dir, v), { recursive: true, force: true });
        await rm(volumeDir(dir, v), { recursive: true, force: true });
      }
      if (stale.some((v) => !v.startsWith('.'))) deps.store.addEvent(deployId, 'DRAINED', `${role}: removed the assets of ${stale.filter((v) => !v.startsWith('.')).join(', ')}`);
    }
  } catch (err) {
    deps.store.addEvent(deployId, 'DRAINED', `could not remove old assets: ${errorText(err)}`);
  }
}

/** `deploy remove`: the service's asset directories go with its containers. */
export async function removeServiceAssets(stateDir: string, m: Pick<ManifestPayload, 'service' | 'destination'>): Promise<void> {
  await rm(assetServiceDir(await hostAssetRoot(stateDir), m), { recursive: true, force: true });
}
