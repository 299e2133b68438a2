// Restoring a tar backup into a named volume or a directory. Pass 1 reads the
// whole archive through the policy and writes nothing; only then is the
// target emptied and pass 2 re-packs the archive into Docker's archive API,
// through a container of the empty image that is created and never started,
// has no network and mounts ONLY the target, at /data. Docker extracts in a
// chroot of that container, so even a Docker bug could reach only the target.
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { chmod, chown, lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupCompression, BackupSpec } from '../../shared/manifest-backups.js';
import { ConflictError, UserError } from '../../shared/errors.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { accessoryBase, accessoryRoot, dirHostPath } from '../core/accessories.js';
import { defaultLogConfig, LABEL } from '../core/containers.js';
import { bindRefusal, type GuardrailPolicy } from '../core/guardrails.js';
import type { DockerPort } from '../docker.js';
import { hostPolicy, resolveHostPath } from '../engine/bind-paths.js';
import { decompressStream } from './compression.js';
import { createEmptyImageContainer, EMPTY_IMAGE, NEVER_RUN } from './empty-image.js';
import { judgeArchive, repackArchive, type ArchiveCheck } from './tar.js';

export const BACKUP_KIND = 'backup';
const MOUNT = '/data';

export interface DataTarget {
  /** What the events call it: `volume pgdata`, `directory /srv/uploads`. */
  label: string;
  /** The Binds entry mounting it at /data. */
  bind: string;
  /** Named volume: its name (its mount point is read from Docker). */
  volume?: string;
  /** Directory: its host path. */
  hostPath?: string;
}

export interface DataDeps {
  docker: DockerPort;
  agentId: string;
  stateDir: string;
  policy: GuardrailPolicy;
}

type Say = (message: string) => Promise<void> | void;

/** Where a volume or directory backup's data lives; an absolute directory is judged like a role's bind (guardrail_refused). */
export async function dataTarget(deps: DataDeps, m: ManifestPayload, name: string, spec: BackupSpec): Promise<DataTarget> {
  if (spec.kind === 'volume') {
    const volume = spec.volume as string;
    return { label: `volume ${volume}`, bind: `${volume}:${MOUNT}`, volume };
  }
  const dir = spec.directory as string;
  if (dir.startsWith('/')) {
    // Judged whole here (resolveBinds alone judges only a path a symlink moved), before
    // anything is created or emptied: no release checks a backup's directory against the guardrails.
    const hostPath = await resolveHostPath(dir);
    const refusal = bindRefusal(hostPath, await hostPolicy(deps.policy));
    if (refusal) {
      throw new UserError(`backup ${name}: directory ${dir} is refused by this agent's guardrails: ${hostPath === dir ? '' : `it resolves to ${hostPath} and `}${refusal.reason}`, refusal.hint, 'guardrail_refused');
    }
    return { label: `directory ${dir}`, bind: `${hostPath}:${MOUNT}`, hostPath };
  }
  const hostPath = dirHostPath(accessoryBase(accessoryRoot(await realpath(deps.stateDir)), m, spec.accessory as string), dir);
  return { label: `directory ${dir} of accessory ${spec.accessory}`, bind: `${hostPath}:${MOUNT}`, hostPath };
}

/** Pass 1: the whole archive through the policy; refuses naming the first bad entry. */
export async function checkArchiveFile(file: string, compression: BackupCompression): Promise<ArchiveCheck> {
  const plain = pipeline(createReadStream(file), decompressStream(compression), () => undefined);
  return judgeArchive(plain);
}

/** Removes everything inside `dir` (never following a symlink out: fs.rm removes links, not their targets). */
async function emptyDirectory(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) await rm(join(dir, entry), { recursive: true, force: true });
}

async function createArchiveContainer(deps: DataDeps, m: ManifestPayload, name: string, target: DataTarget): Promise<string> {
  const spec = {
    name: `berth-restore-${m.service}-${name}-${Date.now().toString(36)}`,
    image: EMPTY_IMAGE,
    cmd: NEVER_RUN,
    env: {},
    labels: { [LABEL.kind]: BACKUP_KIND, [LABEL.service]: m.service, [LABEL.destination]: m.destination, 'berth.backup': name },
    network: 'none',
    restartPolicy: 'no' as const,
    host: { Binds: [target.bind], LogConfig: defaultLogConfig() },
    config: {},
  };
  return createEmptyImageContainer(deps.docker, spec);
}

/** The volume's host directory, after its owner was checked; undefined while the volume does not exist. */
async function volumeDir(deps: DataDeps, volume: string): Promise<string | undefined> {
  const info = await deps.docker.volumeInfo(volume);
  if (!info) return undefined;
  const owner = info.labels[LABEL.agent];
  if (owner !== undefined && owner !== deps.agentId) throw new ConflictError(`volume ${volume} belongs to another Berth agent on this engine`, undefined, 'volume_not_ours');
  // The agent empties it through the host path: Docker must run on this host.
  const st = await lstat(info.mountpoint).catch(() => undefined);
  // Emptying would follow it: what it points to is not what Docker mounts.
  if (st?.isSymbolicLink()) {
    throw new ConflictError(`volume ${volume}'s mount point ${info.mountpoint} is a symlink; a restore does not empty what it points to`, undefined, 'volume_unreachable');
  }
  if (!st?.isDirectory()) {
    throw new ConflictError(`volume ${volume}'s mount point ${info.mountpoint} is not a directory this agent can reach`, 'the agent must run on the Docker host, as root', 'volume_unreachable');
  }
  return info.mountpoint;
}

/** Before anything is stopped: the target is usable (a volume this agent's or unlabelled, on this host). */
const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * 409 target_in_use while a running container still mounts the target (the
 * writers and the accessory are stopped by then): the agent empties it as
 * root, and a container writing there meanwhile could swap a directory for
 * a symlink between the check and the removal.
 */
export async function refuseTargetInUse(deps: Pick<DataDeps, 'docker'>, target: DataTarget): Promise<void> {
  const users = (await deps.docker.runningMounts()).filter((m) =>
    target.volume !== undefined
      ? m.type === 'volume' && m.source === target.volume
      : m.type === 'bind' && target.hostPath !== undefined && (inside(m.source, target.hostPath) || inside(target.hostPath, m.source)),
  );
  if (users.length === 0) return;
  const names = [...new Set(users.map((u) => u.name))].sort();
  throw new ConflictError(
    `${target.label} is in use by running container${names.length > 1 ? 's' : ''} ${names.join(', ')}`,
    'stop them first, or list their roles in the backup\'s writers: so nothing writes into it while it is emptied and restored',
    'target_in_use',
  );
}

export async function checkTarget(deps: DataDeps, target: DataTarget): Promise<void> {
  if (target.volume !== undefined) await volumeDir(deps, target.volume);
}

/** The target emptied and the archive written into it (pass 2). The caller stopped what uses the data. */
export async function writeArchive(deps: DataDeps, m: ManifestPayload, name: string, target: DataTarget, file: string, check: ArchiveCheck & { compression: BackupCompression }, say: Say): Promise<void> {
  const { compression } = check;
  if (target.hostPath !== undefined) await mkdir(target.hostPath, { recursive: true, mode: 0o750 });
  // Created first: the agent-scoped port creates a missing named volume with the agent's labels.
  const id = await createArchiveContainer(deps, m, name, target);
  try {
    const dir = target.volume !== undefined ? await volumeDir(deps, target.volume) : target.hostPath;
    if (dir === undefined) throw new ConflictError(`volume ${target.volume} does not exist`);
    await say(`emptying ${target.label}`);
    await emptyDirectory(dir);
    await say(`writing the archive into ${target.label}`);
    // A stream that fails mid-way may leave Docker's request open: the first failure decides.
    let failed: (err: Error) => void = () => undefined;
    const streamFailed = new Promise<never>((_, reject) => (failed = reject));
    const tar = pipeline(createReadStream(file), decompressStream(compression), repackArchive(), (err) => err && failed(err));
    await Promise.race([deps.docker.putArchive(id, MOUNT, tar), streamFailed]);
    // Docker leaves the mount point's own mode and owner: the archive's root entry has them (a database's 0700 data dir).
    if (check.root) {
      await chown(dir, check.root.uid, check.root.gid);
      await chmod(dir, check.root.mode);
    }
  } finally {
    await deps.docker.remove(id, { force: true }).catch(() => undefined);
  }
}
