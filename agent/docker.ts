// The one dockerode adapter. Everything else talks to Docker through the narrow
// DockerPort below, so the engine stays testable and a dockerode upgrade touches
// one file. No API version is pinned: Debian's engine speaks 1.41 and dockerode
// negotiates down to it.
import Docker from 'dockerode';
import { ConflictError, ConfigError, UpstreamError } from '../shared/errors.js';
import type { ContainerSpec } from './core/containers.js';

export type { ContainerSpec };

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

export interface DockerPort {
  ping(): Promise<void>;
  ensureNetwork(name: string, subnet: string): Promise<void>;
  imagePresent(ref: string): Promise<boolean>;
  pull(ref: string, options?: PullOptions): Promise<void>;
  createContainer(spec: ContainerSpec): Promise<string>;
  start(id: string): Promise<void>;
  /** By id or name; undefined when no such container. */
  inspect(idOrName: string): Promise<ContainerInfo | undefined>;
  stop(id: string, timeoutSeconds: number): Promise<void>;
  remove(id: string, options?: { force?: boolean }): Promise<void>;
  listContainers(labels: Record<string, string>, all: boolean): Promise<ContainerInfo[]>;
  /** The last `lines` lines of stdout+stderr, decoded, for failure messages. */
  logTail(id: string, lines: number): Promise<string>;
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

  const call = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw upstream(action, err);
    }
  };

  return {
    async ping() {
      await call('ping', () => docker.ping());
    },

    async ensureNetwork(name, subnet) {
      const existing = async () =>
        (await call('network list', () => docker.listNetworks({ filters: { name: [name] } }))).find((n) => n.Name === name);
      if (await existing()) return;
      try {
        await docker.createNetwork({
          Name: name,
          Driver: 'bridge',
          CheckDuplicate: true,
          IPAM: { Driver: 'default', Config: [{ Subnet: subnet }] },
          Labels: { 'berth.kind': 'network' },
        });
      } catch (err) {
        // Another process may have created it between our look and our create.
        if (statusOf(err) === 409 && (await existing())) return;
        throw upstream(`network create ${name}`, err);
      }
    },

    async imagePresent(ref) {
      try {
        await docker.getImage(ref).inspect();
        return true;
      } catch (err) {
        if (statusOf(err) === 404) return false;
        throw upstream(`image inspect ${ref}`, err);
      }
    },

    async pull(ref, options = {}) {
      const stream = await call(`pull ${ref}`, () =>
        options.auth ? pullWithAuth(docker, ref, options.auth) : docker.pull(ref),
      );
      // The engine answers 200 and then reports failures inside the stream, so
      // the pull is only done (or failed) when the stream ends.
      const progress = createPullProgress();
      await new Promise<void>((resolve, reject) => {
        let streamError: string | undefined;
        docker.modem.followProgress(
          stream,
          (err: unknown) => {
            if (err) reject(upstream(`pull ${ref}`, err));
            else if (streamError) reject(new UpstreamError(`docker pull ${ref} failed: ${streamError}`));
            else resolve();
          },
          (event: PullEvent) => {
            if (event.error || event.errorDetail?.message) {
              streamError ??= String(event.errorDetail?.message ?? event.error);
              return;
            }
            const update = progress(event);
            if (update) options.onProgress?.(update.percent, update.message);
          },
        );
      });
      options.onProgress?.(100, `pulled ${ref}`);
    },

    async createContainer(spec) {
      try {
        const container = await docker.createContainer({
          name: spec.name,
          Image: spec.image,
          ...(spec.cmd ? { Cmd: spec.cmd } : {}),
          Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
          Labels: spec.labels,
          HostConfig: { RestartPolicy: { Name: spec.restartPolicy }, NetworkMode: spec.network },
          NetworkingConfig: { EndpointsConfig: { [spec.network]: {} } },
        });
        return container.id;
      } catch (err) {
        if (statusOf(err) === 409) {
          throw new ConflictError(`container name ${spec.name} is already taken: ${messageOf(err)}`, undefined, 'container_name_taken');
        }
        // Never echo the spec: its env holds unsealed secrets.
        throw upstream(`create container ${spec.name}`, err);
      }
    },

    async start(id) {
      try {
        await docker.getContainer(id).start();
      } catch (err) {
        if (statusOf(err) === 304) return; // already running
        throw upstream(`start ${id.slice(0, 12)}`, err);
      }
    },

    async inspect(idOrName) {
      try {
        const c = await docker.getContainer(idOrName).inspect();
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
        };
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw upstream(`inspect ${idOrName}`, err);
      }
    },

    async stop(id, timeoutSeconds) {
      try {
        await docker.getContainer(id).stop({ t: timeoutSeconds });
      } catch (err) {
        const status = statusOf(err);
        if (status === 304 || status === 404) return; // already stopped or gone
        throw upstream(`stop ${id.slice(0, 12)}`, err);
      }
    },

    async remove(id, options = {}) {
      try {
        await docker.getContainer(id).remove({ force: options.force ?? false });
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
      const list = await call('list containers', () => docker.listContainers({ all, filters: { label } }));
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        running: c.State === 'running',
        state: c.State,
        exitCode: null,
        ip: c.NetworkSettings?.Networks?.[network]?.IPAddress || null,
        labels: c.Labels ?? {},
        createdAt: c.Created * 1000,
      }));
    },

    async logTail(id, lines) {
      try {
        const buf = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail: lines, follow: false });
        return demuxLogs(buf).slice(-16 * 1024);
      } catch (err) {
        if (statusOf(err) === 404) return '';
        throw upstream(`logs ${id.slice(0, 12)}`, err);
      }
    },
  };
}

function pullWithAuth(docker: Docker, ref: string, auth: RegistryAuth): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    docker.pull(ref, {}, (err, stream) => (err || !stream ? reject(err) : resolve(stream)), auth);
  });
}

interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Rough overall percent from per-layer byte counts; reports only when it moves. */
export function createPullProgress(): (event: PullEvent) => { percent: number; message: string } | undefined {
  const layers = new Map<string, { current: number; total: number }>();
  let last = -1;
  return (event) => {
    const status = event.status ?? '';
    if (event.id && /^[0-9a-f]{12}$/.test(event.id)) {
      const layer = layers.get(event.id) ?? { current: 0, total: 0 };
      const detail = event.progressDetail ?? {};
      // Extraction reports bytes again; count only downloads, then mark done.
      if (status === 'Downloading' && detail.total) {
        layer.total = detail.total;
        layer.current = Math.min(detail.current ?? 0, detail.total);
      } else if (/^(Download complete|Pull complete|Already exists)$/.test(status)) {
        layer.total ||= 1;
        layer.current = layer.total;
      }
      layers.set(event.id, layer);
    }
    let current = 0;
    let total = 0;
    let known = 0;
    for (const l of layers.values()) {
      if (l.total > 0) known++;
      current += l.current;
      total += l.total;
    }
    // Layers whose size is not yet known count as not started.
    const fraction = total > 0 ? (current / total) * (known / Math.max(layers.size, 1)) : 0;
    // Layers appear as the pull goes, so the raw fraction can dip; a progress bar must not.
    const percent = Math.min(99, Math.floor(fraction * 100));
    if (percent <= last) return undefined;
    last = percent;
    return { percent, message: `${status || 'pulling'}${event.id ? ` ${event.id}` : ''}`.trim() };
  };
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
