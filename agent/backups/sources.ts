// Where a backup's raw bytes come from. kind accessory: the dump command,
// `docker exec`ed in the running accessory; its stdout is the backup, its
// stderr is kept (last lines, the accessory's secret values replaced) for the
// failure reason, and its exit code is read once the output ended. kind
// volume/directory: a container of the agent's empty image, created and never
// started, without network, that mounts only the volume or directory,
// read-only, at /data; Docker's archive API streams /data as tar, and the tar
// check (tar.ts) fails a stream that is cut short or holds what a restore
// would refuse.
import { lstat, realpath } from 'node:fs/promises';
import { Readable, type Transform } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { BackupSpec } from '../../shared/manifest-backups.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { findAccessory, requireAccessory } from '../accessories/service.js';
import { openAccessorySecrets } from '../accessories/secrets.js';
import { accessoryBase, accessoryRoot, dirHostPath } from '../core/accessories.js';
import { OutputTail, Redactor } from '../core/cron/output.js';
import { LABEL, agentTag, type ContainerSpec } from '../core/containers.js';
import { bindRefusal, type GuardrailPolicy } from '../core/guardrails.js';
import type { DockerPort } from '../docker.js';
import { hostPolicy, resolveHostPath } from '../engine/bind-paths.js';
import type { Unseal } from '../engine/role-secrets.js';
import { EMPTY_IMAGE, NEVER_RUN, createEmptyImageContainer } from './empty-image.js';
import { checkedArchive, type ArchiveCheck } from './tar.js';

export const BACKUP_KIND = 'backup';
/** The backup an archive container reads for (beside berth.kind=backup). */
export const BACKUP_LABEL = 'berth.backup';
const STDERR_KEEP_BYTES = 2048;
const STDERR_KEEP_LINES = 10;

export interface SourceDeps {
  docker: DockerPort;
  stateDir: string;
  policy: GuardrailPolicy;
  sealingPrivateJwk: JWK;
  unseal?: Unseal;
  /** The tar check; tests of the writer alone may pass a plain pass-through. */
  checkArchive?: () => { stream: Transform; done: Promise<ArchiveCheck> };
}

export interface BackupSource {
  /** The raw bytes: the dump's stdout, or the tar archive (checked as it flows). */
  stream: Readable;
  /** Once `stream` ended: why the source failed (a non-zero exit), or undefined. */
  end(): Promise<string | undefined>;
  /** Why the stream itself failed, for the reason. */
  explain(err: unknown): string;
  /** Cuts it short (timeout, shutdown). */
  kill(): void;
  /** Removes what it made; idempotent; never throws. */
  dispose(): Promise<void>;
}

/** A source that cannot be opened: the run fails with this message. */
export class SourceRefused extends Error {}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function openSource(deps: SourceDeps, m: ManifestPayload, backup: string, spec: BackupSpec): Promise<BackupSource> {
  if (spec.kind === 'accessory') return dumpSource(deps, m, spec);
  return archiveSource(deps, m, backup, await mountOf(deps, m, spec));
}

/** The last lines of what the dump wrote on stderr. */
function lastLines(text: string): string {
  return text.trimEnd().split('\n').slice(-STDERR_KEEP_LINES).join('\n');
}

async function dumpSource(deps: SourceDeps, m: ManifestPayload, spec: BackupSpec): Promise<BackupSource> {
  const name = spec.accessory as string;
  const accessory = requireAccessory(m, name);
  const found = await findAccessory(deps.docker, m, name);
  if (!found?.running) throw new SourceRefused(`accessory ${name} is not running`);
  const secrets = await openAccessorySecrets(m, name, accessory, deps.sealingPrivateJwk, deps.unseal ?? defaultUnseal);
  const session = await deps.docker.exec(found.id, spec.dump as string[], { tty: false, stdin: false, ...(spec.user ? { user: spec.user } : {}) });
  const stderr = new OutputTail(STDERR_KEEP_BYTES);
  const redactor = new Redactor(secrets.env);
  const decoder = new TextDecoder();
  let killed = false;
  async function* stdout() {
    for await (const chunk of session.output) {
      if (chunk.stream === 'stdout') yield chunk.data;
      else stderr.append(redactor.push(decoder.decode(chunk.data, { stream: true })));
    }
    stderr.append(redactor.push(decoder.decode()) + redactor.flush());
  }
  const tail = () => lastLines(stderr.text());
  return {
    stream: Readable.from(stdout(), { objectMode: false }),
    async end() {
      if (killed) return undefined;
      const code = await session.exitCode();
      if (code === 0) return undefined;
      const said = tail();
      return `the dump ${code === null ? 'ended with an unknown exit code' : `exited with code ${code}`}${said ? `: ${said}` : ''}`;
    },
    explain: (err) => `reading the dump failed: ${messageOf(err)}${tail() ? `: ${tail()}` : ''}`,
    kill() {
      // Docker cannot stop an exec: dropping its connection closes its stdout, and a dump writing to it dies of SIGPIPE.
      killed = true;
      session.close();
    },
    dispose: () => session.dispose().catch(() => undefined),
  };
}

/** The volume or host directory to archive, as a bind of /data. */
async function mountOf(deps: SourceDeps, m: ManifestPayload, spec: BackupSpec): Promise<{ bind: string; what: string }> {
  if (spec.kind === 'volume') {
    const name = spec.volume as string;
    const info = await deps.docker.volumeInfo(name);
    if (!info) throw new SourceRefused(`volume ${name} does not exist on this host`);
    const owner = info.labels[LABEL.agent];
    if (owner !== undefined && owner !== m.aud) throw new SourceRefused(`volume ${name} belongs to another Berth agent on this Docker engine (${owner.slice(0, 12)}…)`);
    return { bind: `${name}:/data:ro`, what: `volume ${name}` };
  }
  const dir = spec.directory as string;
  if (!dir.startsWith('/')) {
    const state = await realpath(deps.stateDir);
    const path = dirHostPath(accessoryBase(accessoryRoot(state), m, spec.accessory as string), dir);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isDirectory() || st.isSymbolicLink()) throw new SourceRefused(`directory ${dir} of accessory ${spec.accessory} does not exist on this host yet (${path})`);
    return { bind: `${path}:/data:ro`, what: `directory ${dir}` };
  }
  // Judged as any bind a release asks for, on the path the host would mount; the bind guard judges it again at create.
  const resolved = await resolveHostPath(dir).catch((e: unknown) => {
    throw new SourceRefused(`directory ${dir}: ${messageOf(e)}`);
  });
  const refusal = bindRefusal(resolved, await hostPolicy(deps.policy));
  if (refusal) throw new SourceRefused(`directory ${dir} is refused by this agent's guardrails: ${resolved === dir ? '' : `it resolves to ${resolved} and `}${refusal.reason}`);
  const st = await lstat(resolved).catch(() => undefined);
  if (!st?.isDirectory()) throw new SourceRefused(`directory ${dir} does not exist on this host`);
  return { bind: `${resolved}:/data:ro`, what: `directory ${dir}` };
}

function archiveContainerSpec(m: ManifestPayload, backup: string, bind: string): ContainerSpec {
  return {
    name: `${m.service}-backup-${backup}-${randomBytes(4).toString('hex')}-${agentTag(m.aud)}`,
    image: EMPTY_IMAGE,
    cmd: NEVER_RUN,
    env: {},
    labels: { [LABEL.kind]: BACKUP_KIND, [LABEL.service]: m.service, [LABEL.destination]: m.destination, [BACKUP_LABEL]: backup },
    network: 'none',
    restartPolicy: 'no',
    host: { Binds: [bind], LogConfig: { Type: 'none', Config: {} } },
    config: {},
  };
}

async function archiveSource(deps: SourceDeps, m: ManifestPayload, backup: string, mount: { bind: string; what: string }): Promise<BackupSource> {
  const id = await createEmptyImageContainer(deps.docker, archiveContainerSpec(m, backup, mount.bind));
  let disposed: Promise<void> | undefined;
  const dispose = () => (disposed ??= deps.docker.remove(id, { force: true }).catch(() => undefined));
  try {
    const archive = (await deps.docker.getArchive(id, '/data/.')) as NodeJS.ReadableStream & { destroy?: (e?: Error) => void };
    const check = (deps.checkArchive ?? checkedArchive)();
    check.done.catch(() => undefined); // its failure shows as the stream's
    archive.on('error', (e: Error) => check.stream.destroy(e));
    archive.pipe(check.stream);
    return {
      stream: check.stream,
      end: async () => undefined,
      explain: (err) => `the archive of ${mount.what} is not a whole tar archive: ${messageOf(err)}`,
      kill() {
        archive.destroy?.();
        void dispose();
      },
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** Why there is nothing to back up yet (a before_deploy backup is then skipped), or undefined. */
export async function sourceMissing(deps: Pick<SourceDeps, 'docker' | 'stateDir'>, m: ManifestPayload, spec: BackupSpec): Promise<string | undefined> {
  if (spec.kind === 'accessory') {
    const found = await findAccessory(deps.docker, m, spec.accessory as string);
    return found?.running ? undefined : `accessory ${spec.accessory} is not running yet`;
  }
  if (spec.kind === 'volume') return (await deps.docker.volumeInfo(spec.volume as string)) ? undefined : `volume ${spec.volume} does not exist yet`;
  const dir = spec.directory as string;
  const path = dir.startsWith('/') ? dir : dirHostPath(accessoryBase(accessoryRoot(await realpath(deps.stateDir)), m, spec.accessory as string), dir);
  return (await lstat(path).catch(() => undefined))?.isDirectory() ? undefined : `directory ${dir} does not exist yet`;
}
