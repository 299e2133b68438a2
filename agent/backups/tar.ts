// The one tar-stream importer. tar-stream only PARSES and PACKS: it does not
// refuse absolute paths, `..`, links out, devices or FIFOs, and it skips zero
// blocks without noticing whether the end-of-archive marker ever came (it
// notices only an entry cut short). Every such rule is ours: the entry rules
// in agent/core/backups/archive-policy.ts, the end marker here (the bytes
// after the last entry's data must be at least two zero blocks).
//
// A restore re-packs (repackArchive): Docker's own parser gets fresh headers
// holding only what the policy judged (name, type, size, mode, mtime, uid,
// gid, linkname), never the original's pax records, long-name extensions or
// device numbers, so a parser differential between tar-stream and Docker's Go
// archive package cannot smuggle an entry past the check.
import { Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { createArchivePolicy, type ArchiveEntry, type JudgedEntry } from '../core/backups/archive-policy.js';

export interface ArchiveCheck {
  /** Entries the archive holds. */
  entries: number;
  /** Bytes of the tar stream. */
  bytes: number;
  /** The root entry's (`./`) mode and owner, when the archive has one: Docker's extraction leaves the target's own as they are. */
  root?: { mode: number; uid: number; gid: number };
}

const BLOCK = 512;
const END_MARKER = 2 * BLOCK;

export class ArchiveIncompleteError extends Error {}

type Header = tar.Header & { byteOffset?: number };
/** An entry's data as tar-stream hands it (a streamx Readable). */
type EntryData = Parameters<Parameters<tar.Extract['on']>[1]>[1] & { resume(): unknown; pipe<T>(dest: T): T; on(event: string, fn: (...args: unknown[]) => void): unknown };

/**
 * Parses a tar stream through the policy: `onEntry` is called for each
 * accepted entry with its data stream and must consume it. Write the archive
 * into `sink`; `finished` settles once the whole archive was parsed and its
 * end marker seen (rejects with the first refusal or parse error).
 */
function parse(onEntry: (judged: JudgedEntry, header: tar.Header, data: EntryData) => Promise<void>): { sink: Writable; finished: Promise<ArchiveCheck> } {
  const policy = createArchivePolicy();
  const extract = tar.extract();
  let bytes = 0;
  let lastEnd = 0;
  // The stream's tail, to see that it ends in zero blocks.
  let tail = Buffer.alloc(0);
  let root: ArchiveCheck['root'];
  extract.on('entry', (header: Header, source, next) => {
    const data = source as unknown as EntryData;
    const entry: ArchiveEntry = { name: header.name, type: header.type, linkname: header.linkname, mode: header.mode, size: header.size };
    let judged: JudgedEntry;
    try {
      judged = policy.judge(entry);
    } catch (err) {
      data.resume();
      next(err as Error);
      return;
    }
    if (judged.path === '.') root = { mode: (header.mode ?? 0o755) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0 };
    lastEnd = (header.byteOffset ?? 0) + Math.ceil((header.size ?? 0) / BLOCK) * BLOCK;
    onEntry(judged, header, data).then(() => next(), (err: unknown) => {
      data.resume();
      next(err as Error);
    });
  });
  const finished = new Promise<ArchiveCheck>((resolve, reject) => {
    extract.on('error', reject);
    extract.on('finish', () => {
      if (policy.entries() === 0) return reject(new ArchiveIncompleteError('the archive holds no entries'));
      const trailing = bytes - lastEnd;
      if (trailing < END_MARKER || tail.subarray(tail.length - Math.min(trailing, tail.length)).some((b) => b !== 0)) {
        return reject(new ArchiveIncompleteError('the archive ends before its end marker (cut short?)'));
      }
      resolve({ entries: policy.entries(), bytes, ...(root ? { root } : {}) });
    });
  });
  finished.catch(() => undefined);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      tail = Buffer.concat([tail, chunk]);
      if (tail.length > END_MARKER) tail = tail.subarray(tail.length - END_MARKER);
      if (!extract.write(chunk)) extract.once('drain', () => done());
      else done();
    },
    final(done) {
      extract.end(undefined);
      finished.then(() => done(), done);
    },
    destroy(err, done) {
      extract.destroy(err ?? undefined);
      done(err);
    },
  });
  extract.on('error', (err) => sink.destroy(err));
  return { sink, finished };
}

/**
 * A pass-through of a tar stream that parses it as it flows: the bytes come
 * out unchanged, and the stream fails on the first entry a restore would
 * refuse (naming it) or when the archive ends before its end marker. `done`
 * settles when the stream ended.
 */
export function checkedArchive(): { stream: Transform; done: Promise<ArchiveCheck> } {
  const { sink, finished } = parse(async (_judged, _header, data) => {
    data.resume();
    await new Promise<void>((resolve, reject) => {
      data.on('end', () => resolve());
      data.on('error', reject);
    });
  });
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      sink.write(chunk, (err) => (err ? done(err) : done(null, chunk)));
    },
    flush(done) {
      sink.end();
      finished.then(() => done(), done);
    },
  });
  sink.on('error', (err) => stream.destroy(err));
  stream.on('close', () => {
    if (!sink.writableFinished) sink.destroy();
  });
  return { stream, done: finished };
}

/** Parses the whole archive through the policy, writing nothing (a restore's first pass). */
export async function judgeArchive(input: NodeJS.ReadableStream): Promise<ArchiveCheck> {
  const { stream, done } = checkedArchive();
  await pipeline(input, stream, new Writable({ write: (_c, _e, cb) => cb() }));
  return done;
}

/**
 * A restore's second pass: the archive in, a fresh archive out holding only
 * the entries the policy accepted, with only the header fields it judged
 * (names normalized, `./` for the root). Fails like checkedArchive.
 */
export function repackArchive(): Transform {
  const pack = tar.pack();
  const { sink, finished } = parse(async (judged, header, data) => {
    const fields: Partial<tar.Header> & { name: string } = {
      name: judged.path === '.' ? './' : judged.path,
      type: judged.type,
      size: judged.type === 'file' || judged.type === 'contiguous-file' ? (header.size ?? 0) : 0,
      mode: (header.mode ?? 0) & 0o7777,
      mtime: header.mtime ?? new Date(0),
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      ...(judged.linkname !== null ? { linkname: judged.linkname } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const out = pack.entry(fields, (err) => (err ? reject(err) : resolve()));
      data.on('error', reject);
      data.pipe(out);
    });
  });
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      sink.write(chunk, (err) => done(err ?? null));
    },
    flush(done) {
      sink.end();
      finished.then(() => {
        pack.finalize();
        pack.on('end', () => done());
      }, done);
    },
  });
  pack.on('data', (chunk: unknown) => {
    if (!stream.push(chunk)) pack.pause();
  });
  const origRead = stream._read.bind(stream);
  stream._read = (size: number) => {
    pack.resume();
    origRead(size);
  };
  pack.on('error', (err) => stream.destroy(err));
  sink.on('error', (err) => stream.destroy(err));
  stream.on('close', () => {
    if (!sink.writableFinished) sink.destroy();
    pack.destroy();
  });
  return stream;
}

/** One entry of readTarEntries: the raw header fields the caller judges itself. */
export interface RawTarEntry {
  name: string;
  type: string;
  size: number;
}

/**
 * Reads a tar stream entry by entry without the restore policy (asset
 * extraction, agent/engine/assets-extract.ts, applies rules of its own):
 * `onEntry` must consume or resume `data`. Resolves at the archive's end.
 */
export async function readTarEntries(input: NodeJS.ReadableStream, onEntry: (entry: RawTarEntry, data: NodeJS.ReadableStream) => Promise<void>): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, source, next) => {
    const data = source as unknown as EntryData;
    onEntry({ name: header.name, type: header.type ?? 'file', size: header.size ?? 0 }, data as unknown as NodeJS.ReadableStream).then(
      () => next(),
      (err: unknown) => {
        data.resume();
        next(err as Error);
      },
    );
  });
  await pipeline(input, extract);
}
