// Docker's long-lived streams: container logs, `docker exec`, and a new
// container attached before it starts. Receives the Dockerode instance from
// agent/docker.ts (the one file that imports dockerode); hands back plain
// chunk streams so the rest of the agent never sees Docker's framing.
import { Readable, Transform } from 'node:stream';
import type Docker from 'dockerode';
import { createDemuxer, type OutputChunk } from './core/output-frames.js';

export type { OutputChunk };

export interface LogOptions {
  follow: boolean;
  /** Lines per container; undefined: all. */
  tail?: number;
  /** Unix seconds. */
  since?: number;
}

export interface ChunkStream {
  /** Demuxed output; ends when Docker ends the stream (container stopped, or not following). */
  output: AsyncIterable<OutputChunk>;
  /** Drops the Docker connection; idempotent. */
  close(): void;
}

export interface ProcessIo {
  tty: boolean;
  /** Attach stdin (interactive); without it the process gets no input. */
  stdin: boolean;
  /** exec only: the user the process runs as (docker exec --user); the container's default when absent. */
  user?: string;
}

/** A process started by the agent for an operator: exec in a container, or a container of its own. */
export interface ProcessSession extends ChunkStream {
  write(data: Uint8Array): void;
  /** Writes and resolves once Docker's connection took the data (backpressure for long inputs); absent on fakes. */
  send?(data: Uint8Array): Promise<void>;
  /** End of input: the process reads EOF. */
  endInput(): void;
  resize(cols: number, rows: number): Promise<void>;
  /** The exit code, once the process ended; null when Docker cannot say. */
  exitCode(): Promise<number | null>;
  /** Stops what was started (a container is removed); idempotent. */
  dispose(): Promise<void>;
}

type RawStream = NodeJS.ReadableStream & { destroy?: (err?: Error) => void; end?: (cb?: () => void) => void; write?: (data: Uint8Array) => boolean };

function demuxed(raw: RawStream, framing: 'framed' | 'raw' | 'auto'): Readable {
  const demux = createDemuxer(framing);
  const out = new Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _enc, done) {
      for (const c of demux.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) this.push(c);
      done();
    },
    flush(done) {
      for (const c of demux.end()) this.push(c);
      done();
    },
  });
  // A Docker connection reset, or our own close(), ends the output; it is not the consumer's error.
  const finish = () => {
    if (!out.writableEnded) out.end();
  };
  (raw as NodeJS.EventEmitter).on('error', finish);
  (raw as NodeJS.EventEmitter).on('close', finish);
  raw.pipe(out);
  return out;
}

/**
 * Always a stream, read as the consumer reads: dockerode hands a read without
 * follow back as one Buffer of Docker's whole answer (a 160 MB log became
 * 160 MB in the agent), so the request goes through its modem instead. The
 * consumer that stops reading holds Docker's connection paused (backpressure);
 * close() drops it.
 */
export async function openLogs(docker: Docker, id: string, o: LogOptions): Promise<ChunkStream> {
  const options = {
    stdout: true,
    stderr: true,
    timestamps: true,
    follow: o.follow,
    ...(o.tail !== undefined ? { tail: o.tail } : {}),
    ...(o.since !== undefined ? { since: o.since } : {}),
  };
  const modem = docker.modem as { dial(opts: object, cb: (err: unknown, data: unknown) => void): void };
  const raw = await new Promise<RawStream>((resolve, reject) => {
    modem.dial(
      {
        path: `/containers/${encodeURIComponent(id)}/logs?`,
        method: 'GET',
        isStream: true,
        statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
        options,
      },
      (err, data) => (err ? reject(err) : resolve(data as RawStream)),
    );
  });
  const output = demuxed(raw, 'auto');
  return { output, close: () => raw.destroy?.() };
}

export async function execIn(docker: Docker, id: string, cmd: string[], io: ProcessIo): Promise<ProcessSession> {
  const exec = await docker.getContainer(id).exec({ Cmd: cmd, ...(io.user ? { User: io.user } : {}), AttachStdin: io.stdin, AttachStdout: true, AttachStderr: true, Tty: io.tty });
  const raw = (await exec.start({ hijack: true, stdin: io.stdin, Tty: io.tty })) as unknown as RawStream;
  const output = demuxed(raw, io.tty ? 'raw' : 'framed');
  return {
    output,
    close: () => raw.destroy?.(),
    write: (data) => void raw.write?.(data),
    send: (data) => sendTo(raw, data),
    endInput: () => raw.end?.(),
    resize: async (cols, rows) => void (await exec.resize({ w: cols, h: rows })),
    exitCode: () =>
      settle(async () => {
        const info = await exec.inspect();
        return info.Running ? undefined : (info.ExitCode ?? null);
      }),
    async dispose() {
      // Docker has no call to stop an exec: dropping the connection closes its
      // input (and hangs up its terminal), which ends shells and most commands.
      raw.destroy?.();
    },
  };
}

/** Creates the container from `create` options, attaches, then starts it, so no output is missed. */
export async function runAttached(docker: Docker, create: Docker.ContainerCreateOptions, io: ProcessIo): Promise<ProcessSession> {
  const container = await docker.createContainer({
    ...create,
    Tty: io.tty,
    OpenStdin: io.stdin,
    StdinOnce: io.stdin,
    AttachStdin: io.stdin,
    AttachStdout: true,
    AttachStderr: true,
  });
  // Every caller waits for the one removal: the second must not return while the container still exists.
  let disposing: Promise<void> | undefined;
  const dispose = () => (disposing ??= container.remove({ force: true }).then(() => undefined, () => undefined));
  try {
    const raw = (await container.attach({ stream: true, stdin: io.stdin, stdout: true, stderr: true, hijack: io.stdin })) as RawStream;
    const output = demuxed(raw, io.tty ? 'raw' : 'framed');
    await container.start();
    return {
      output,
      close: () => raw.destroy?.(),
      write: (data) => void raw.write?.(data),
      endInput: () => raw.end?.(),
      resize: async (cols, rows) => void (await container.resize({ w: cols, h: rows })),
      // Read once the output ended: a wait issued before start can miss a fast exit.
      exitCode: () =>
        settle(async () => {
          const info = await container.inspect();
          return info.State.Running ? undefined : info.State.ExitCode;
        }),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** One write, resolved when the socket can take more (or failed when it closed meanwhile). */
function sendTo(raw: RawStream, data: Uint8Array): Promise<void> {
  if (!raw.write) return Promise.reject(new Error('the process takes no input'));
  if (raw.write(data)) return Promise.resolve();
  const emitter = raw as unknown as NodeJS.EventEmitter;
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      emitter.off('drain', onDrain);
      emitter.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the process closed its input'));
    emitter.on('drain', onDrain);
    emitter.on('close', onClose);
  });
}

/**
 * The exit code once Docker records it: the output ends a moment before the
 * exit is recorded. Null when Docker cannot say (removed meanwhile, or still
 * running after a few seconds).
 */
async function settle(read: () => Promise<number | null | undefined>): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    try {
      const code = await read();
      if (code !== undefined) return code;
    } catch {
      return null;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}
