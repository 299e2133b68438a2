// A service's container logs as records, one per line. Following keeps
// watching the service: a container that starts later (a deploy) is attached
// from its creation time, so none of its lines are lost, and a container whose
// stream ends (stopped after a switch) is dropped.
import type { LogRecord } from '../../shared/api-responses.js';
import { findAccessory } from '../accessories/service.js';
import { LABEL } from '../core/containers.js';
import { createLineSplitter, splitTimestamp, type OutputStreamName } from '../core/output-frames.js';
import type { ContainerInfo, DockerPort, LogOptions } from '../docker.js';
import { serviceContainers } from '../engine/observe.js';
import type { Logger } from '../log.js';
import type { DeployEvent, Store } from '../store/index.js';

/** One line of the NDJSON answer; its schema is shared with the CLI. */
export type { LogRecord };

export interface LogQuery {
  service: string;
  destination: string;
  role?: string | undefined;
  /** An accessory's container instead of the app's (then `role` is absent). */
  accessory?: string | undefined;
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
/** A read without follow stops after this many characters of lines: one request, bounded work. */
export const MAX_READ_CHARS = 16 * 1024 * 1024;
/** How long a follow stream lasts unless the agent is told otherwise (--log-follow-limit). */
export const DEFAULT_FOLLOW_LIMIT_MS = 60 * 60 * 1000;
const POLL_MS = 1000;

/** The running app containers the query covers, or the accessory's. */
export async function logTargets(docker: DockerPort, q: Pick<LogQuery, 'service' | 'destination' | 'role' | 'accessory'>): Promise<ContainerInfo[]> {
  if (q.accessory !== undefined) {
    const found = await findAccessory(docker, q, q.accessory);
    return found?.running ? [found] : [];
  }
  const listed = await serviceContainers(docker, q.service, q.destination, { all: false });
  return listed
    .filter((c) => c.running && (q.role === undefined || c.labels[LABEL.role] === q.role))
    .sort((a, b) => a.createdAt - b.createdAt);
}

type Emit = (r: LogRecord) => Promise<void>;

/**
 * One container's log as records, read from Docker only as fast as they are
 * taken: nothing is held beyond the stream's own small buffers. Ends at the
 * end of Docker's stream, on `signal`, or when the consumer stops iterating
 * (the Docker connection is dropped then).
 */
async function* containerRecords(docker: DockerPort, c: ContainerInfo, opts: LogOptions, signal: AbortSignal): AsyncGenerator<LogRecord> {
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
  function* records(name: OutputStreamName, lines: string[]): Generator<LogRecord> {
    for (const raw of lines) {
      const { t, line } = splitTimestamp(raw, last);
      last = t;
      yield { t, ...meta, stream: name, line };
    }
  }
  try {
    for await (const chunk of stream.output) {
      if (signal.aborted) return;
      yield* records(chunk.stream, splitters[chunk.stream].push(chunk.data));
    }
    yield* records('stdout', splitters.stdout.end());
    yield* records('stderr', splitters.stderr.end());
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.close();
  }
}

/** Reads one container's log stream to its end (or the abort), emitting records. */
async function pump(docker: DockerPort, c: ContainerInfo, opts: LogOptions, emit: Emit, signal: AbortSignal): Promise<void> {
  for await (const r of containerRecords(docker, c, opts, signal)) {
    if (signal.aborted) return;
    await emit(r);
  }
}

/**
 * Without follow: the last `tail` lines of each container, merged by time.
 * Each container's log is already in time order, so the merge reads all of
 * them side by side and always sends the oldest head: it holds one record
 * per container, never the log. Past `maxChars` of lines the read stops
 * (every Docker stream is dropped) and a last record says the output was cut.
 */
export async function readLogs(deps: LogsDeps, q: LogQuery, targets: ContainerInfo[], emit: Emit, signal: AbortSignal, maxChars = MAX_READ_CHARS): Promise<void> {
  const opts: LogOptions = { follow: false, tail: q.tail, ...(q.since !== undefined ? { since: q.since } : {}) };
  const sources = targets.map((c) => containerRecords(deps.docker, c, opts, signal));
  let sent = 0;
  let lastT: string | undefined;
  let cut = false;
  try {
    const heads = await Promise.all(sources.map((s) => s.next()));
    while (!signal.aborted) {
      let pick = -1;
      let best: LogRecord | undefined;
      heads.forEach((h, i) => {
        // Ties go to the container listed first (the older one), as a stable sort would.
        if (!h.done && (best === undefined || h.value.t < best.t)) [pick, best] = [i, h.value];
      });
      if (best === undefined) break;
      sent += best.line.length;
      if (sent > maxChars) {
        cut = true;
        break;
      }
      lastT = best.t;
      await emit(best);
      heads[pick] = await sources[pick]!.next();
    }
  } finally {
    // Drops the Docker connections of the containers not read to their end.
    await Promise.allSettled(sources.map((s) => s.return(undefined)));
  }
  if (cut && !signal.aborted) {
    const size = maxChars >= 1024 * 1024 ? `${Math.round(maxChars / (1024 * 1024))} MiB` : `${maxChars} characters`;
    await emit(agentRecord(lastT ?? new Date().toISOString(), `berth: output cut at ${size} of lines; ask for fewer (--lines, --since) or one role`, 'cut'));
  }
}

/** A record the agent adds to the stream, about the stream. */
function agentRecord(t: string, line: string, end: LogRecord['end']): LogRecord {
  return { t, role: '', release: '', container: '', stream: 'stderr', line, ...(end ? { end } : {}) };
}

/**
 * Follows until `signal` aborts, `keepGoing` says no or `limitMs` passed: the
 * given containers from `tail`/`since`, then every container of the service
 * that starts later. At the time limit a last record (end: follow_limit) says
 * so; the CLI follows on with a new request, which is authenticated again.
 */
export async function followLogs(
  deps: LogsDeps,
  q: LogQuery,
  targets: ContainerInfo[],
  emit: Emit,
  signal: AbortSignal,
  keepGoing: () => boolean = () => true,
  limitMs = DEFAULT_FOLLOW_LIMIT_MS,
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
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    poke();
  }, limitMs);
  const goOn = () => !signal.aborted && !timedOut && keepGoing();
  try {
    while (goOn()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, POLL_MS);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
      if (!goOn()) break;
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
    clearTimeout(limit);
    deps.store.bus.off('event', onEvent);
    deps.store.bus.off('final', poke);
    signal.removeEventListener('abort', poke);
    signal.removeEventListener('abort', stop);
    inner.abort();
  }
  await Promise.allSettled([...active.values()]);
  if (timedOut && !signal.aborted) {
    const seconds = Math.ceil(limitMs / 1000);
    deps.log.info('log follow reached its time limit', { service: q.service, seconds });
    await emit(agentRecord(new Date().toISOString(), `berth: follow ended after ${seconds} s (this agent's limit); follow again to go on`, 'follow_limit'));
  }
}
