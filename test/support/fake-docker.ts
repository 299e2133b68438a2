// A Docker engine in memory behind the engine's DockerPort, for unit tests of
// the deploy state machine: containers get an address when started and lose it
// when stopped, like on a bridge network. Tests make a call fail (failOn), a
// container exit right after it starts (exitOnStart), or its health check
// answer badly (health) to walk every failure path without a real engine.
import { UpstreamError } from '../../shared/errors.js';
import type { ContainerInfo, ContainerSpec, DockerPort, PullOptions } from '../../agent/docker.js';
import type { HealthProbe, ProbeResult } from '../../agent/engine/types.js';

export interface FakeContainer {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
  running: boolean;
  exitCode: number | null;
  ip: string | null;
  createdAt: number;
  finishedAt: number | null;
}

type FaultyCall = 'pull' | 'createContainer' | 'start' | 'stop' | 'remove' | 'inspect' | 'listContainers' | 'ensureNetwork';

interface Fault {
  call: FaultyCall;
  error: Error;
  /** Only calls whose argument (image, container name or id) this accepts; all when absent. */
  when?: (arg: string) => boolean;
}

export class FakeDocker implements DockerPort {
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set<string>();
  readonly networks = new Set<string>();
  /** Every call that changed something, as `call name`: what a test can assert the engine did. */
  readonly actions: string[] = [];
  private faults: Fault[] = [];
  private nextId = 1;
  private nextIp = 2;
  /** Exit code a container gets right after it is started; undefined keeps it running. */
  exitOnStart: (c: FakeContainer) => number | undefined = () => undefined;
  /** The health check answer of a running container. */
  health: (c: FakeContainer) => ProbeResult = () => ({ ok: true, detail: 'HTTP 200' });

  /** Makes every later `call` (matching `when`) fail with `error`, until clearFaults. */
  failOn(call: FaultyCall, error: Error, when?: (arg: string) => boolean): void {
    this.faults.push({ call, error, ...(when ? { when } : {}) });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** The engine's health probe against these containers, by address. */
  readonly probe: HealthProbe = async (host) => {
    const c = [...this.containers.values()].find((x) => x.running && x.ip === host);
    return c ? this.health(c) : { ok: false, detail: 'ECONNREFUSED' };
  };

  byName(name: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.name === name);
  }

  private fault(call: FaultyCall, arg: string): void {
    const f = this.faults.find((x) => x.call === call && (!x.when || x.when(arg)));
    if (f) throw f.error;
  }

  private find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? this.byName(idOrName);
  }

  private must(id: string): FakeContainer {
    const c = this.find(id);
    if (!c) throw new UpstreamError(`docker: no such container: ${id}`);
    return c;
  }

  private info(c: FakeContainer): ContainerInfo {
    return {
      id: c.id,
      name: c.name,
      running: c.running,
      state: c.running ? 'running' : c.finishedAt === null ? 'created' : 'exited',
      exitCode: c.exitCode,
      ip: c.ip,
      labels: { ...c.labels },
      createdAt: c.createdAt,
      finishedAt: c.finishedAt,
      restartCount: 0,
      binds: [],
    };
  }

  async ping(): Promise<void> {}

  async ensureNetwork(name: string): Promise<void> {
    this.fault('ensureNetwork', name);
    this.networks.add(name);
  }

  async ensureVolume(_name: string, labels: Record<string, string>): Promise<Record<string, string>> {
    return labels;
  }

  async imagePresent(ref: string): Promise<boolean> {
    return this.images.has(ref);
  }

  async pull(ref: string, options: PullOptions = {}): Promise<void> {
    this.fault('pull', ref);
    options.onProgress?.(100, 'Download complete');
    this.images.add(ref);
    this.actions.push(`pull ${ref}`);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.fault('createContainer', spec.name);
    if (this.byName(spec.name)) throw new UpstreamError(`docker create failed: name ${spec.name} is in use`);
    const id = `c${String(this.nextId++).padStart(11, '0')}`;
    this.containers.set(id, { id, name: spec.name, image: spec.image, labels: { ...spec.labels }, running: false, exitCode: null, ip: null, createdAt: Date.now(), finishedAt: null });
    this.actions.push(`create ${spec.name}`);
    return id;
  }

  async start(id: string): Promise<void> {
    const c = this.must(id);
    this.fault('start', c.name);
    if (c.running) return;
    this.actions.push(`start ${c.name}`);
    const exitCode = this.exitOnStart(c);
    if (exitCode !== undefined) {
      Object.assign(c, { running: false, exitCode, ip: null, finishedAt: Date.now() });
      return;
    }
    Object.assign(c, { running: true, exitCode: null, ip: `10.77.0.${this.nextIp++}` });
  }

  async inspect(idOrName: string): Promise<ContainerInfo | undefined> {
    this.fault('inspect', idOrName);
    const c = this.find(idOrName);
    return c && this.info(c);
  }

  async stop(id: string): Promise<void> {
    const c = this.must(id);
    this.fault('stop', c.name);
    this.actions.push(`stop ${c.name}`);
    if (c.running) Object.assign(c, { running: false, exitCode: 0, ip: null, finishedAt: Date.now() });
  }

  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    const c = this.must(id);
    this.fault('remove', c.name);
    if (c.running && !options.force) throw new UpstreamError(`docker remove failed: container ${c.name} is running`);
    this.containers.delete(c.id);
    this.actions.push(`remove ${c.name}`);
  }

  async listContainers(labels: Record<string, string>, all: boolean): Promise<ContainerInfo[]> {
    this.fault('listContainers', '');
    return [...this.containers.values()]
      .filter((c) => (all || c.running) && Object.entries(labels).every(([k, v]) => c.labels[k] === v))
      .map((c) => this.info(c));
  }

  async disableRestart(): Promise<void> {}

  async engineBindMounts(): Promise<[]> {
    return [];
  }

  async runningMounts(): Promise<[]> {
    return [];
  }

  async logTail(id: string): Promise<string> {
    return `${this.find(id)?.name ?? id}: fake app log line\n`;
  }

  async logs(): Promise<undefined> {
    throw new Error('FakeDocker: logs is not faked');
  }

  async exec(): Promise<never> {
    throw new Error('FakeDocker: exec is not faked');
  }

  async runAttached(): Promise<never> {
    throw new Error('FakeDocker: runAttached is not faked');
  }

  // Archives and imports are exercised against the real engine only (test/integration/backups/).
  async getArchive(): Promise<never> {
    throw new Error('FakeDocker: getArchive is not faked');
  }

  async putArchive(): Promise<never> {
    throw new Error('FakeDocker: putArchive is not faked');
  }

  async importImage(): Promise<never> {
    throw new Error('FakeDocker: importImage is not faked');
  }

  async volumeInfo(): Promise<undefined> {
    return undefined;
  }
}
