// The one dockerode adapter. Everything else talks to Docker through the narrow
// DockerPort below, so the engine stays testable and a dockerode upgrade touches
// one file. No API version is pinned: Debian's engine speaks 1.41 and dockerode
// negotiates down to it.
import Docker from 'dockerode';
import { ConflictError, ConfigError, UpstreamError } from '../shared/errors.js';
import type { ContainerSpec } from './core/containers.js';
import { createPullProgress, describePullFailure, followPull } from './docker-pull.js';
import { execIn, openLogs, runAttached, type ChunkStream, type LogOptions, type ProcessIo, type ProcessSession } from './docker-streams.js';

export type { ContainerSpec };
export { followPull, type PullEvent } from './docker-pull.js';
export type { ChunkStream, LogOptions, OutputChunk, ProcessIo, ProcessSession } from './docker-streams.js';

export interface ContainerInfo {
  id: string;
  name: string;
  running: boolean;
  /** Docker's state word: created, running, exited, restarting, … */
  state: string;
  exitCode: number | null;
  /** Address on the berth network; null when not attached or not running. */
  ip: string | null;
  labels: Record<string, string>;
  /** Creation time in milliseconds (list answers have only second precision). */
  createdAt: number;
  /** When it last stopped, in milliseconds; null or absent if it never did or when unknown (list answers). */
  finishedAt?: number | null;
  /** How often Docker's restart policy restarted it (inspect only): a rise means it crashed in between. */
  restartCount?: number;
  /** Its health check's status (starting, healthy, unhealthy) when it has one (inspect only). */
  health?: string;
  /** Host directories and files bind-mounted into it (inspect only). */
  binds?: BindMount[];
}

export interface BindMount {
  source: string;
  writable: boolean;
}

/** A mount of a running container on the engine, whoever made it: a host path (bind) or a named volume. */
export interface EngineMount {
  id: string;
  name: string;
  type: 'bind' | 'volume';
  /** The host path of a bind, the name of a volume. */
  source: string;
}

/** A bind mount of any container on the engine, whoever made it. */
export interface EngineBindMount extends BindMount {
  id: string;
  name: string;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

export interface PullOptions {
  auth?: RegistryAuth;
  onProgress?: (percent: number, message: string) => void;
}

/** A registry that stops sending mid-pull would otherwise hold the deploy (and its lock) forever. */
export const PULL_INACTIVITY_MS = 120_000;
/** Docker answers ordinary calls in well under a second; a hung daemon must not hang a deploy. */
export const REQUEST_TIMEOUT_MS = 60_000;

export interface DockerPort {
  ping(): Promise<void>;
  /** Creates the network with `labels` unless it exists; an existing one is used as it is. */
  ensureNetwork(name: string, subnet: string, labels?: Record<string, string>): Promise<void>;
  /**
   * Creates the named volume with `labels` (and the local driver's `driverOptions`, an NFS mount) unless it
   * exists; returns the labels it has. An existing volume whose driver options differ is a ConflictError.
   */
  ensureVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>): Promise<Record<string, string>>;
  imagePresent(ref: string): Promise<boolean>;
  pull(ref: string, options?: PullOptions): Promise<void>;
  createContainer(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  /** By id or name; undefined when no such container. */
  inspect(idOrName: string): Promise<ContainerInfo | undefined>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string, options?: { force?: boolean }): Promise<void>;
  listContainers(labels: Record<string, string>, all: boolean): Promise<ContainerInfo[]>;
  /** Docker will not start it again by itself (restart policy `no`); it keeps running if it runs. */
  disableRestart(id: string): Promise<void>;
  /** Every bind mount of every container on the engine, running or not: what containers can write on the host. */
  engineBindMounts(): Promise<EngineBindMount[]>;
  /** The binds and named volumes of every RUNNING container on the engine (what could write a restore's target). */
  runningMounts(): Promise<EngineMount[]>;
  /** The last `lines` lines of stdout+stderr, decoded, for failure messages. */
  logTail(id: string, lines: number): Promise<string>;
  /** A container's stdout+stderr with Docker's timestamps; undefined when the container is gone. */
  logs(id: string, options: LogOptions): Promise<ChunkStream | undefined>;
  /** `docker exec` in a running container. */
  exec(id: string, cmd: string[], io: ProcessIo): Promise<ProcessSession>;
  /** A new container from `spec`, attached before it starts; dispose() removes it. */
  runAttached(spec: ContainerSpec, io: ProcessIo): Promise<ProcessSession>;
  /**
   * `GET /containers/{id}/archive?path=`: a tar stream of `path` in the
   * container (which need not have started). Docker does not follow symlinks;
   * an error after the answer began shows only as a short tar, so the caller
   * parses it to its end.
   */
  getArchive(id: string, path: string): Promise<NodeJS.ReadableStream>;
  /** `PUT /containers/{id}/archive?path=`: extracts a plain tar stream into `path` (a directory) of the container. */
  putArchive(id: string, path: string, tar: NodeJS.ReadableStream): Promise<void>;
  /** `docker import` of a root filesystem tar as `repoTag` (an image made by the agent, never pulled). */
  importImage(tar: NodeJS.ReadableStream, repoTag: string): Promise<void>;
  /** A named volume's labels and host mount point; undefined when there is no such volume. */
  volumeInfo(name: string): Promise<{ labels: Record<string, string>; mountpoint: string } | undefined>;
}

export function dockerOptionsFromHost(host: string): Docker.DockerOptions {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
  if (host.startsWith('/')) return { socketPath: host };
  const m = /^(tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d{1,5})\/?$/.exec(host);
  if (m && m[2] && m[3]) return { protocol: 'http', host: m[2], port: Number(m[3]) };
  throw new ConfigError(`docker host ${JSON.stringify(host)} is not unix:///PATH or tcp://HOST:PORT`);
}

interface DockerApiError {
  statusCode?: number;
  reason?: string;
  json?: { message?: string } | null;
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  return (err as DockerApiError | null)?.statusCode;
}

function messageOf(err: unknown): string {
  const e = err as DockerApiError | null;
  const fromJson = e?.json && typeof e.json === 'object' ? e.json.message : undefined;
  return String(fromJson ?? e?.message ?? err).trim();
}

function upstream(action: string, err: unknown): UpstreamError {
  return new UpstreamError(`docker ${action} failed: ${messageOf(err)}`);
}

export function createDockerPort(host: string, network = 'berth'): DockerPort {
  const docker = new Docker(dockerOptionsFromHost(host));

  const call = async <T>(action: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> => {
    try {
      return await withTimeout(action, timeoutMs, fn);
    } catch (err) {
      throw err instanceof UpstreamError ? err : upstream(action, err);
    }
  };
  // The same, for callers that look at Docker's status code themselves.
  const raw = <T>(action: string, fn: (signal: AbortSignal) => Promise<T>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> =>
    withTimeout(action, timeoutMs, fn);

  // Networks this process has seen or made, with what it made them with.
  const networks = new Map<string, { subnet: string; labels: Record<string, string> }>();
  const lookUpOrCreateNetwork = async (name: string, subnet: string, labels: Record<string, string>): Promise<void> => {
    const existing = async () =>
      (await call('network list', (abortSignal) => docker.listNetworks({ filters: { name: [name] }, abortSignal }))).find((n) => n.Name === name);
    if (await existing()) return;
    try {
      await raw(`network create ${name}`, (abortSignal) => docker.createNetwork({
        abortSignal,
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
        Labels: { ...labels, 'berth.kind': 'network' },
      }));
    } catch (err) {
      // Another process may have created it between our look and our create.
      if (statusOf(err) === 409 && (await existing())) return;
      throw upstream(`network create ${name}`, err);
    }
  };

  /**
   * When Docker says a network this process made sure of is gone (removed
   * behind its back; Docker reports it at start, some versions at create),
   * makes it again as it was and says so, for the caller to try once more.
   */
  const remadeNetwork = async (err: unknown): Promise<boolean> => {
    if (statusOf(err) !== 404) return false;
    const name = /network (\S+) not found/i.exec(messageOf(err))?.[1];
    const known = name === undefined ? undefined : networks.get(name);
    if (name === undefined || !known) return false;
    await lookUpOrCreateNetwork(name, known.subnet, known.labels);
    return true;
  };

  return {
    async ping() {
      await call('ping', () => docker.ping());
    },

    async ensureNetwork(name, subnet, labels = {}) {
      // Looked up once per process; start (and create) make it again when Docker no longer has it.
      if (networks.has(name)) return;
      await lookUpOrCreateNetwork(name, subnet, labels);
      networks.set(name, { subnet, labels });
    },

    async ensureVolume(name, labels, driverOptions) {
      // Docker answers a create of an existing volume with that volume, as it is:
      // its labels say whose it is.
      const driver = driverOptions ? { Driver: 'local', DriverOpts: driverOptions } : {};
      await call(`volume create ${name}`, (abortSignal) => docker.createVolume({ abortSignal, Name: name, Labels: labels, ...driver }));
      const info = await call(`volume inspect ${name}`, (abortSignal) => docker.getVolume(name).inspect({ abortSignal }));
      // Mounting it as if it were the NFS export asked for would put the data somewhere else.
      const existing = (info.Options as Record<string, string> | null) ?? {};
      if (driverOptions && (info.Driver !== 'local' || JSON.stringify(sorted(existing)) !== JSON.stringify(sorted(driverOptions)))) {
        throw new ConflictError(
          `volume ${name} exists with other driver options than the NFS mount asks for`,
          'name the volume differently, or remove the old volume on the server (docker volume rm) if it is unused',
          'volume_options_differ',
        );
      }
      return (info.Labels as Record<string, string> | null) ?? {};
    },

    async imagePresent(ref) {
      try {
        await raw(`image inspect ${ref}`, () => docker.getImage(ref).inspect());
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw upstream(`image inspect ${ref}`, err);
      }
    },

    async pull(ref, options = {}) {
      const { auth } = options;
      try {
        const stream = await call(`pull ${ref}`, () => (auth ? pullWithAuth(docker, ref, auth) : docker.pull(ref)));
        const progress = createPullProgress();
        await followPull(stream, ref, {
          inactivityMs: PULL_INACTIVITY_MS,
          onEvent: (event) => {
            const update = progress(event);
            if (update) options.onProgress?.(update.percent, update.message);
          },
        });
      } catch (err) {
        const secrets = auth ? [auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64')] : [];
        throw describePullFailure(err, ref, auth && { server: auth.serveraddress, username: auth.username }, secrets);
      }
      options.onProgress?.(100, `pulled ${ref}`);
    },

    async createContainer(spec) {
      try {
        const create = () => raw(`create container ${spec.name}`, (abortSignal) => docker.createContainer({ abortSignal, ...createOptions(spec) }));
        try {
          return (await create()).id;
        } catch (err) {
          if (!(await remadeNetwork(err))) throw err;
          return (await create()).id;
        }
      } catch (err) {
        if (statusOf(err) === 409) {
          throw new ConflictError(`container name ${spec.name} is already taken: ${messageOf(err)}`, undefined, 'container_name_taken');
        }
        // Never echo the spec: its env holds unsealed secrets.
        throw upstream(`create container ${spec.name}`, err);
      }
    },

    async start(id) {
      const start = () => raw(`start ${id.slice(0, 12)}`, (abortSignal) => docker.getContainer(id).start({ abortSignal }));
      try {
        try {
          await start();
        } catch (err) {
          if (!(await remadeNetwork(err))) throw err;
          await start();
        }
      } catch (err) {
        if (statusOf(err) === 304) return; // already running
        throw upstream(`start ${id.slice(0, 12)}`, err);
      }
    },

    async inspect(idOrName) {
      try {
        const c = await raw(`inspect ${idOrName}`, (abortSignal) => docker.getContainer(idOrName).inspect({ abortSignal }));
        return {
          id: c.Id,
          name: c.Name.replace(/^\//, ''),
          // A crash-looping container under a restart policy is "restarting", not serving.
          running: c.State.Running && !c.State.Restarting,
          state: c.State.Status,
          exitCode: c.State.Running && !c.State.Restarting ? null : c.State.ExitCode,
          ip: c.NetworkSettings.Networks?.[network]?.IPAddress || null,
          labels: c.Config.Labels ?? {},
          createdAt: Date.parse(c.Created),
          finishedAt: finishedAt(c.State.FinishedAt),
          restartCount: c.RestartCount ?? 0,
          binds: bindMounts(c.Mounts),
          ...(c.State.Health?.Status ? { health: c.State.Health.Status } : {}),
        };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw upstream(`inspect ${idOrName}`, err);
      }
    },

    async stop(id, timeoutSeconds) {
      try {
        // Docker answers only once the container stopped, up to its own timeout.
        await raw(`stop ${id.slice(0, 12)}`, (abortSignal) => docker.getContainer(id).stop({ t: timeoutSeconds, abortSignal }), REQUEST_TIMEOUT_MS + timeoutSeconds * 1000);
      } catch (err) {
        const status = statusOf(err);
        if (status === 304 || status === 404) return; // already stopped or gone
        throw upstream(`stop ${id.slice(0, 12)}`, err);
      }
    },

    async remove(id, options = {}) {
      try {
        await raw(`remove ${id.slice(0, 12)}`, (abortSignal) => docker.getContainer(id).remove({ force: options.force ?? false, abortSignal }));
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) return;
        // 409 "removal already in progress" means someone else is finishing the job.
        if (status === 409 && /already in progress/i.test(messageOf(err))) return;
        throw upstream(`remove ${id.slice(0, 12)}`, err);
      }
    },

    async listContainers(labels, all) {
      const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
      const list = await call('list containers', (abortSignal) => docker.listContainers({ all, filters: { label }, abortSignal }));
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        running: c.State === 'running',
        state: c.State,
        exitCode: null,
        ip: c.NetworkSettings?.Networks?.[network]?.IPAddress || null,
        labels: c.Labels ?? {},
        createdAt: c.Created * 1000,
        finishedAt: null,
      }));
    },

    async disableRestart(id) {
      await call(`update ${id.slice(0, 12)}`, (abortSignal) => docker.getContainer(id).update({ RestartPolicy: { Name: 'no' }, abortSignal }));
    },

    async engineBindMounts() {
      const list = await call('list containers', (abortSignal) => docker.listContainers({ all: true, abortSignal }));
      return list.flatMap((c) =>
        bindMounts(c.Mounts).map((m) => ({ ...m, id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, '') })),
      );
    },

    async runningMounts() {
      const list = await call('list containers', (abortSignal) => docker.listContainers({ all: false, abortSignal }));
      return list.flatMap((c) =>
        (c.Mounts ?? [])
          .filter((m) => m.Type === 'bind' || (m.Type === 'volume' && m.Name))
          .map((m) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), type: m.Type as 'bind' | 'volume', source: m.Type === 'bind' ? m.Source : (m.Name as string) })),
      );
    },

    async logTail(id, lines) {
      try {
        const buf = await raw(`logs ${id.slice(0, 12)}`, (abortSignal) =>
          docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false, abortSignal }),
        );
        return demuxLogs(buf).slice(-16 * 1024);
      } catch (err) {
        if (statusOf(err) === 404) return '';
        throw upstream(`logs ${id.slice(0, 12)}`, err);
      }
    },

    async logs(id, options) {
      try {
        return await openLogs(docker, id, options);
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw upstream(`logs ${id.slice(0, 12)}`, err);
      }
    },

    async exec(id, cmd, io) {
      try {
        return await execIn(docker, id, cmd, io);
      } catch (err) {
        if (statusOf(err) === 404 || statusOf(err) === 409) {
          throw new ConflictError(`container ${id.slice(0, 12)} is not running: ${messageOf(err)}`, 'run without --reuse for a new container', 'not_running');
        }
        throw upstream(`exec in ${id.slice(0, 12)}`, err);
      }
    },

    async runAttached(spec, io) {
      try {
        return await runAttached(docker, createOptions(spec), io);
      } catch (err) {
        // Never echo the spec: its env holds unsealed secrets.
        throw upstream(`run ${spec.name}`, err);
      }
    },

    async getArchive(id, path) {
      return call(`archive get ${id.slice(0, 12)} ${path}`, () => docker.getContainer(id).getArchive({ path }));
    },

    async putArchive(id, path, tar) {
      // Docker answers once it has extracted everything (or failed): no timeout beyond the caller's own.
      await raw(`archive put ${id.slice(0, 12)} ${path}`, () => docker.getContainer(id).putArchive(tar, { path }), 24 * 3600_000).catch((err: unknown) => {
        throw upstream(`archive put ${id.slice(0, 12)} ${path}`, err);
      });
    },

    async importImage(tar, repoTag) {
      const [repo = repoTag, tag = 'latest'] = repoTag.split(':');
      const stream = await call(`image import ${repoTag}`, () => docker.importImage(tar, { repo, tag }));
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
          const failed = err ?? (events.find((e) => e.error) ? new Error(events.find((e) => e.error)?.error) : null);
          if (failed) reject(upstream(`image import ${repoTag}`, failed));
          else resolve();
        });
      });
    },

    async volumeInfo(name) {
      try {
        const info = await raw(`volume inspect ${name}`, (abortSignal) => docker.getVolume(name).inspect({ abortSignal }));
        return { labels: (info.Labels as Record<string, string> | null) ?? {}, mountpoint: info.Mountpoint };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw upstream(`volume inspect ${name}`, err);
      }
    },
  };
}

/** Docker's create options for a spec. */
function createOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  return {
    name: spec.name,
    Image: spec.image,
    ...(spec.cmd ? { Cmd: spec.cmd } : {}),
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    // Options first: the restart policy and the network are the agent's, never a manifest's.
    ...spec.config,
    HostConfig: {
      ...spec.host,
      RestartPolicy: { Name: spec.restartPolicy, ...(spec.restartRetries !== undefined ? { MaximumRetryCount: spec.restartRetries } : {}) },
      NetworkMode: spec.network,
    },
    NetworkingConfig: { EndpointsConfig: { [spec.network]: spec.aliases ? { Aliases: spec.aliases } : {} } },
  };
}

/**
 * Runs a Docker call with a deadline: the signal asks dockerode to drop the
 * request, and the race makes sure the caller hears of it even if it does not.
 */
async function withTimeout<T>(action: string, timeoutMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new UpstreamError(`docker ${action} did not answer within ${timeoutMs / 1000}s`, 'is the Docker daemon healthy? (systemctl status docker)'));
    }, timeoutMs);
  });
  try {
    return await Promise.race([fn(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

function bindMounts(mounts: ReadonlyArray<{ Type: string; Source: string; RW: boolean }> | undefined): BindMount[] {
  return (mounts ?? []).filter((m) => m.Type === 'bind').map((m) => ({ source: m.Source, writable: m.RW }));
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Docker's "never finished" is year 1. */
function finishedAt(text: string | undefined): number | null {
  const t = text ? Date.parse(text) : NaN;
  return Number.isFinite(t) && t > 0 ? t : null;
}

function pullWithAuth(docker: Docker, ref: string, auth: RegistryAuth): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.pull(ref, {}, (err, stream) => (err || !stream ? reject(err) : resolve(stream)), auth);
  });
}

/** Docker multiplexes stdout/stderr frames (8-byte header) when the container has no TTY. */
export function demuxLogs(buf: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  const framed = buf.length >= 8 && (buf[0] === 1 || buf[0] === 2) && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!framed) return buf.toString('utf8');
  while (offset + 8 <= buf.length) {
    const size = buf.readUInt32BE(offset + 4);
    chunks.push(buf.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(chunks).toString('utf8');
}
