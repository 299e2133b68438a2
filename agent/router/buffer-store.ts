// Where buffered bodies are held (Kamal's `buffering`): in memory up to the
// route's `memory`, then in a temp file. The file is unlinked as soon as it is
// opened, so it disappears with its descriptor whatever happens to the
// request, or to the router. One memory budget is shared by every buffer of
// the process: past it, bodies go to disk instead of growing the heap.

import { closeSync, mkdirSync, openSync, read, readdirSync, rmSync, unlinkSync, write } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

/** Bytes of bodies held in memory across all requests; kamal-proxy has no such cap. */
export const BUFFER_MEMORY_BUDGET = 32 * 1024 * 1024;
/**
 * Bytes of spill files on disk across all requests (`--buffer-disk-max`). With
 * buffering on by default and no body limit unless the route sets one, a
 * client could otherwise fill the router's disk with one endless upload;
 * kamal-proxy has no such cap.
 */
export const DEFAULT_BUFFER_DISK_BUDGET = 4 * 1024 * 1024 * 1024;
/** Kamal's `buffering.memory` default (kamal-proxy's --buffer-memory). */
export const DEFAULT_BUFFER_MEMORY = 1024 * 1024;
// Disk writes queued before the source is paused.
const DISK_HIGH_WATER = 1024 * 1024;
const READ_BLOCK = 64 * 1024;

export class Spool {
  #inMemory = 0;
  #onDisk = 0;
  #prepared = false;
  #seq = 0;
  #open = 0;

  constructor(
    readonly dir: string,
    readonly budget = BUFFER_MEMORY_BUDGET,
    readonly diskBudget = DEFAULT_BUFFER_DISK_BUDGET,
  ) {}

  /** True when `n` more bytes may be held in memory (then they are counted until released). */
  reserve(n: number): boolean {
    if (this.#inMemory + n > this.budget) return false;
    this.#inMemory += n;
    return true;
  }

  release(n: number): void {
    this.#inMemory -= n;
  }

  /** True when `n` more bytes may be written to spill files (then they are counted until their file closes). */
  reserveDisk(n: number): boolean {
    if (this.#onDisk + n > this.diskBudget) return false;
    this.#onDisk += n;
    return true;
  }

  releaseDisk(n: number): void {
    this.#onDisk -= n;
  }

  /** Bytes in spill files now. */
  get onDisk(): number {
    return this.#onDisk;
  }

  /** Bytes held in memory now. */
  get inMemory(): number {
    return this.#inMemory;
  }

  /** Spill files whose descriptor is open now. */
  get openFiles(): number {
    return this.#open;
  }

  /** A new spill file, already unlinked (0600 while it had a name): its descriptor, read and write. */
  open(): number {
    if (!this.#prepared) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      // Left by a router killed between open and unlink (a window of one system call).
      for (const name of readdirSync(this.dir)) {
        if (name.startsWith(`${process.pid}-`)) continue;
        rmSync(join(this.dir, name), { force: true });
      }
      this.#prepared = true;
    }
    const path = join(this.dir, `${process.pid}-${++this.#seq}`);
    const fd = openSync(path, 'wx+', 0o600);
    this.#open += 1;
    try {
      unlinkSync(path);
    } catch (err) {
      // Another router sharing the dir may have swept it first; only our descriptor matters.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.close(fd, 0);
        throw err;
      }
    }
    return fd;
  }

  /** Closes a spill file that held `size` bytes: the file is gone, and so is its share of the disk budget. */
  close(fd: number, size: number): void {
    this.#open -= 1;
    this.releaseDisk(size);
    try {
      closeSync(fd);
    } catch {
      // Already gone: nothing to free.
    }
  }
}

/** 'full': the spill files of all requests hold the disk budget; the body cannot be buffered now. */
export type AddResult = 'over' | 'full' | 'more' | 'wait';

/**
 * One body being buffered. `add` takes chunks as they come ('over' past
 * `max`, 'wait' when the disk is behind: call `onDrain` before more), then
 * `finish` waits for the disk, and the body is taken once, as one Buffer
 * (`data`) or as a stream (`stream`). `dispose` frees everything, at any time.
 */
export class BodyBuffer {
  size = 0;
  #chunks: Buffer[] = [];
  #reserved = 0;
  #fd: number | undefined;
  #diskSize = 0;
  #writing = 0;
  #error: Error | undefined;
  #drain: (() => void) | undefined;
  #flushed: ((err?: Error) => void) | undefined;
  #disposed = false;

  constructor(
    private readonly spool: Spool,
    private readonly memory: number,
    private readonly max: number | undefined,
  ) {}

  get spilled(): boolean {
    return this.#fd !== undefined;
  }

  add(chunk: Buffer): AddResult {
    const n = chunk.byteLength;
    if (this.max !== undefined && this.size + n > this.max) return 'over';
    this.size += n;
    if (this.#fd === undefined && this.#reserved + n <= this.memory && this.spool.reserve(n)) {
      this.#reserved += n;
      this.#chunks.push(chunk);
      return 'more';
    }
    if (this.#error) return 'more';
    if (!this.spool.reserveDisk(n)) return 'full';
    try {
      this.#fd ??= this.spool.open();
    } catch (err) {
      this.spool.releaseDisk(n);
      this.#error = err as Error;
      return 'more';
    }
    const position = this.#diskSize;
    this.#diskSize += n;
    this.#writing += n;
    write(this.#fd, chunk, 0, n, position, (err) => this.#written(n, err));
    return this.#writing < DISK_HIGH_WATER ? 'more' : 'wait';
  }

  /** Called once when 'wait' was answered and the disk caught up. */
  onDrain(resume: () => void): void {
    this.#drain = resume;
  }

  /** Calls back once every byte is held (an error when the disk failed). */
  finish(done: (err?: Error) => void): void {
    if (this.#writing === 0) return done(this.#error);
    this.#flushed = done;
  }

  /** The whole body in memory (never spilled): one Buffer, with no copy for a single chunk. */
  data(): Buffer | undefined {
    if (this.#fd !== undefined) return undefined;
    return this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.size);
  }

  /** The whole body as a stream (memory first, then the file); the file is closed when it ends or is destroyed. */
  stream(): Readable {
    const chunks = this.#chunks;
    const fd = this.#fd;
    const diskSize = this.#diskSize;
    // The stream owns the file from here on.
    this.#fd = undefined;
    const spool = this.spool;
    let started = false;
    let closed = false;
    const close = (): void => {
      if (closed || fd === undefined) return;
      closed = true;
      spool.close(fd, diskSize);
    };
    const stream = Readable.from(
      (async function* () {
        started = true;
        try {
          yield* chunks;
          for (let position = 0; fd !== undefined && position < diskSize; ) {
            const block = await readAt(fd, Math.min(READ_BLOCK, diskSize - position), position);
            if (block.byteLength === 0) throw new Error('spill file shorter than written');
            position += block.byteLength;
            yield block;
          }
        } finally {
          close();
        }
      })(),
      { objectMode: false },
    );
    // Destroyed before its first read: the generator never runs, so neither does its finally. Once
    // started, the finally closes the file, never while a read on it is pending.
    stream.once('close', () => started || close());
    return stream;
  }

  /** Frees the memory reservation and the file (if no stream took it); safe to call more than once. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.spool.release(this.#reserved);
    this.#reserved = 0;
    this.#chunks = [];
    this.#drain = undefined;
    this.#flushed = undefined;
    if (this.#fd !== undefined && this.#writing === 0) {
      this.spool.close(this.#fd, this.#diskSize);
      this.#fd = undefined;
    }
  }

  #written(n: number, err: Error | null): void {
    this.#writing -= n;
    if (err) this.#error ??= err;
    if (this.#disposed) {
      // Closed only once no write can still use the descriptor.
      if (this.#writing === 0 && this.#fd !== undefined) {
        this.spool.close(this.#fd, this.#diskSize);
        this.#fd = undefined;
      }
      return;
    }
    if (this.#writing === 0 && this.#flushed) {
      const flushed = this.#flushed;
      this.#flushed = undefined;
      flushed(this.#error);
      return;
    }
    if (this.#drain && this.#writing < DISK_HIGH_WATER / 2) {
      const drain = this.#drain;
      this.#drain = undefined;
      drain();
    }
  }
}

function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const block = Buffer.allocUnsafe(length);
    read(fd, block, 0, length, position, (err, bytesRead) => (err ? reject(err) : resolve(block.subarray(0, bytesRead))));
  });
}
