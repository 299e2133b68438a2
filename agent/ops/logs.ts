// A service's container logs as records, one per line. Following keeps
// watching the service: a container that starts later (a deploy) is attached
// from its creation time, so none of its lines are lost, and a container whose
// stream ends (stopped after a switch) is dropped.
import { LABEL } from '../core/containers.js';
import { createLineSplitter, splitTimestamp, type OutputStreamName } from '../core/output-frames.js';
import type { ContainerInfo, DockerPort, LogOptions } from '../docker.js';
import { serviceContainers } from '../engine/observe.js';
import type { Logger } from '../log.js';
import type { DeployEvent, Store } from '../store/index.js';

export interface LogRecord {
  t: string;
  role: string;
  release: string;
  container: string;
  stream: OutputStreamName;
  line: string;
}

export interface LogQuery {
  service: string;
  destination: string;
  role?: string | undefined;
  follow: boolean;
  /** Lines per container. */
  tail: number;
  /** Unix seconds. */
  since?: number | undefined;
}

export interface LogsDeps {
  store: Store;
  docker: DockerPort;
  log: Logger;
}

/** Longer lines are cut into pieces of this size. */
export const MAX_LINE_CHARS = 16 * 1024;
/** A read without follow holds every line to merge them by time; past this many characters it stops reading. */
export const MAX_READ_CHARS = 16 * 1024 * 1024;
const POLL_MS = 1000;

/** The running app containers the query covers. */
export async function logTargets(docker: DockerPort, q: Pick<LogQuery, 'service' | 'destination' | 'role'>): Promise<ContainerInfo[]> {
  const listed = await serviceContainers(docker, q.service, q.destination, { all: false });
  return listed
    .filter((c) => c.running && (q.role === undefined || c.labels[LABEL.role] === q.role))
    .sort((a, b) => a.createdAt - b.createdAt);
}

type Emit = (r: LogRecord) => Promise<void>;

/** Reads one container's log stream to its end (or the abort), emitting records. */
async function pump(docker: DockerPort, c: ContainerInfo, opts: LogOptions, emit: Emit, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  const stream = await docker.logs(c.id, opts);
  if (!stream) return;
  // The client may have gone while Docker answered: a listener added to an
  // aborted signal never runs, and a quiet container would hold the stream.
  if (signal.aborted) return stream.close();
  const onAbort = () => stream.close();
  signal.addEventListener('abort', onAbort, { once: true });
  const meta = { role: c.labels[LABEL.role] ?? '', release: c.labels[LABEL.release] ?? '', container: c.name };
  const splitters = { stdout: createLineSplitter(MAX_LINE_CHARS), stderr: createLineSplitter(MAX_LINE_CHARS) };
  let last = new Date().toISOString();
  const send = async (name: OutputStreamName, lines: string[]) => {
    for (const raw of lines) {
      const { t, line } = splitTimestamp(raw, last);
      last = t;
      await emit({ t, ...meta, stream: name, line });
    }
  };
  try {
    for await (const chunk of stream.output) {
      if (signal.aborted) return;
      await send(chunk.stream, splitters[chunk.stream].push(chunk.data));
    }
    await send('stdout', splitters.stdout.end());
    await send('stderr', splitters.stderr.end());
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.close();
  }
}

/**
 * Without follow: the last `tail` lines of each container, merged by time.
 * Merging holds them all, so past MAX_READ_CHARS the read stops and a last
 * record says the output was cut.
 */
export async function readLogs(deps: LogsDeps, q: LogQuery, targets: ContainerInfo[], emit: Emit, signal: AbortSignal, maxChars = MAX_READ_CHARS): Promise<void> {
  const records: LogRecord[] = [];
  const opts: LogOptions = { follow: false, tail: q.tail, ...(q.since !== undefined ? { since: q.since } : {}) };
  const full = new AbortController();
  const stop = () => full.abort();
  signal.addEventListener('abort', stop, { once: true });
  let held = 0;
  const collect = async (r: LogRecord) => {
    if (full.signal.aborted) return;
    // The characters the record holds, and a rough allowance for the object around them.
    held += r.line.length + r.container.length + r.role.length + r.release.length + 64;
    if (held > maxChars) return full.abort();
    records.push(r);
  };
  try {
    for (const c of targets) await pump(deps.docker, c, opts, collect, full.signal);
  } finally {
    signal.removeEventListener('abort', stop);
  }
  if (signal.aborted) return;
  records.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
  for (const r of records) {
    if (signal.aborted) return;
    await emit(r);
  }
  if (full.signal.aborted) {
    const size = maxChars >= 1024 * 1024 ? `${Math.round(maxChars / (1024 * 1024))} MiB` : `${maxChars} characters`;
    await emit({
      t: records.at(-1)?.t ?? new Date().toISOString(),
      role: '',
      release: '',
      container: '',
      stream: 'stderr',
      line: `berth: output cut at ${size} of lines; ask for fewer (--lines, --since) or one role`,
    });
  }
}

/**
 * Follows until `signal` aborts or `keepGoing` says no: the given containers
 * from `tail`/`since`, then every container of the service that starts later.
 */
export async function followLogs(
  deps: LogsDeps,
  q: LogQuery,
  targets: ContainerInfo[],
  emit: Emit,
  signal: AbortSignal,
  keepGoing: () => boolean = () => true,
): Promise<void> {
  // Ours to abort when the loop ends for any reason, so no Docker stream outlives it.
  const inner = new AbortController();
  const stop = () => inner.abort();
  signal.addEventListener('abort', stop, { once: true });
  const active = new Map<string, Promise<void>>();
  /** When a container's stream ended: if it runs again (restart), follow it from there. */
  const endedAt = new Map<string, number>();
  /**
   * The time of the last line sent per container. Docker's `since` is whole
   * seconds, so a re-attach repeats the last second: those lines are dropped.
   */
  const lastSent = new Map<string, string>();
  const attach = (c: ContainerInfo, opts: LogOptions) => {
    const after = lastSent.get(c.id);
    const emitNew: Emit = async (r) => {
      if (after !== undefined && r.t <= after) return;
      lastSent.set(c.id, r.t);
      await emit(r);
    };
    const p = pump(deps.docker, c, opts, emitNew, inner.signal)
      .catch((err: unknown) => {
        if (!inner.signal.aborted) deps.log.warn('log stream failed', { container: c.name, err });
      })
      .finally(() => {
        active.delete(c.id);
        endedAt.set(c.id, Date.now());
      });
    active.set(c.id, p);
  };
  for (const c of targets) attach(c, { follow: true, tail: q.tail, ...(q.since !== undefined ? { since: q.since } : {}) });

  // Deploy steps say "look now"; the poll catches everything else (docker start by hand).
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  const onEvent = (e: DeployEvent) => (e.state === 'STARTED' || e.state === 'HEALTHY') && poke();
  deps.store.bus.on('event', onEvent);
  deps.store.bus.on('final', poke);
  signal.addEventListener('abort', poke);
  try {
    while (!signal.aborted && keepGoing()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (signal.aborted || !keepGoing()) break;
      let running: ContainerInfo[];
      try {
        running = await logTargets(deps.docker, q);
      } catch (err) {
        deps.log.warn('listing containers for logs failed', { err });
        continue;
      }
      for (const c of running) {
        if (active.has(c.id)) continue;
        const ended = endedAt.get(c.id);
        attach(c, { follow: true, since: Math.floor((ended ?? c.createdAt) / 1000) });
      }
    }
  } finally {
    deps.store.bus.off('event', onEvent);
    deps.store.bus.off('final', poke);
    signal.removeEventListener('abort', poke);
    signal.removeEventListener('abort', stop);
    inner.abort();
  }
  await Promise.allSettled([...active.values()]);
}
