// Buffered bodies: memory up to the route's `memory` and the shared budget,
// then an unlinked spill file (a real one, in a temp dir), freed on dispose.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { BodyBuffer, Spool } from '../../../agent/router/buffer-store.js';
import { holdsResponse } from '../../../agent/router/buffering.js';
import { waitFor } from '../../support/wait.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-spool-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const finished = (b: BodyBuffer): Promise<void> => new Promise((resolve, reject) => b.finish((err) => (err ? reject(err) : resolve())));

async function read(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

test('a body under memory stays in memory: one Buffer, no file; dispose gives the memory back', async () => {
  const spool = new Spool(join(dir, 'a'));
  const single = new BodyBuffer(spool, 100, undefined);
  const chunk = Buffer.from('hello');
  assert.equal(single.add(chunk), 'more');
  await finished(single);
  assert.equal(single.data(), chunk, 'a single chunk is not copied');
  const two = new BodyBuffer(spool, 100, undefined);
  two.add(Buffer.from('ab'));
  two.add(Buffer.from('cd'));
  assert.equal(two.data()?.toString(), 'abcd');
  assert.equal(spool.inMemory, 9);
  single.dispose();
  two.dispose();
  two.dispose();
  assert.equal(spool.inMemory, 0);
  assert.equal(spool.openFiles, 0);
});

test('past memory the body goes to an unlinked file and reads back whole; the file closes when read', async () => {
  const spool = new Spool(join(dir, 'b'));
  const buffer = new BodyBuffer(spool, 10, undefined);
  const parts = [Buffer.from('0123456'), Buffer.alloc(200_000, 'x'), Buffer.from('end')];
  for (const p of parts) assert.equal(buffer.add(p), 'more');
  assert.equal(buffer.spilled, true);
  assert.equal(spool.openFiles, 1);
  assert.deepEqual(await readdir(join(dir, 'b')), [], 'unlinked as soon as opened');
  await finished(buffer);
  assert.equal(buffer.data(), undefined);
  assert.equal(buffer.size, 200_010);
  assert.ok((await read(buffer.stream())).equals(Buffer.concat(parts)));
  buffer.dispose();
  assert.equal(spool.openFiles, 0);
  assert.equal(spool.inMemory, 0);
});

test('over max: refused; the shared budget sends further bodies to disk', async () => {
  const spool = new Spool(join(dir, 'c'), 8);
  const limited = new BodyBuffer(spool, 100, 5);
  assert.equal(limited.add(Buffer.from('abc')), 'more');
  assert.equal(limited.add(Buffer.from('def')), 'over');
  limited.dispose();
  const first = new BodyBuffer(spool, 100, undefined);
  const second = new BodyBuffer(spool, 100, undefined);
  first.add(Buffer.from('123456'));
  second.add(Buffer.from('abcdef'));
  assert.equal(first.spilled, false);
  assert.equal(second.spilled, true, 'the budget held only the first');
  await finished(second);
  assert.equal((await read(second.stream())).toString(), 'abcdef');
  first.dispose();
  second.dispose();
  assert.equal(spool.inMemory, 0);
});

test('a disk behind asks the source to wait, then drains; disposing mid-write or an unread stream leaves no file open', async () => {
  const spool = new Spool(join(dir, 'd'));
  const buffer = new BodyBuffer(spool, 0, undefined);
  const results = Array.from({ length: 40 }, () => buffer.add(Buffer.alloc(64 * 1024, 'w')));
  assert.equal(results.at(-1), 'wait');
  await new Promise<void>((resolve) => buffer.onDrain(resolve));
  buffer.dispose();
  await waitFor('the file closed after its last write', () => spool.openFiles === 0);

  const unread = new BodyBuffer(spool, 0, undefined);
  unread.add(Buffer.from('x'));
  await finished(unread);
  const stream = unread.stream();
  stream.destroy();
  await waitFor('the destroyed stream closed the file', () => spool.openFiles === 0);
});

test('answers held: not HEAD, 204, 304, server-sent events or chunked ones', () => {
  const h = (...pairs: string[]): Buffer[] => pairs.map((p) => Buffer.from(p));
  assert.equal(holdsResponse('GET', 200, h('Content-Length', '5', 'Content-Type', 'text/html')), true);
  assert.equal(holdsResponse('GET', 200, h('Connection', 'close')), true, 'delimited by the close');
  assert.equal(holdsResponse('HEAD', 200, h('Content-Length', '5')), false);
  assert.equal(holdsResponse('GET', 204, []), false);
  assert.equal(holdsResponse('GET', 304, h('Content-Length', '5')), false);
  assert.equal(holdsResponse('GET', 200, h('content-type', 'Text/Event-Stream; charset=utf-8')), false);
  assert.equal(holdsResponse('GET', 200, h('Content-Type', 'text/event-streamer')), true);
  assert.equal(holdsResponse('GET', 200, h('Transfer-Encoding', 'chunked')), false);
});

test('spill files share the disk budget: past it add() answers full; a closed file gives its bytes back', async () => {
  const spool = new Spool(join(dir, 'disk'), 0, 10);
  const a = new BodyBuffer(spool, 0, undefined);
  assert.equal(a.add(Buffer.alloc(6)), 'more');
  const b = new BodyBuffer(spool, 0, undefined);
  assert.equal(b.add(Buffer.alloc(6)), 'full', 'six more would pass ten');
  assert.equal(spool.onDisk, 6);
  await finished(a);
  const stream = a.stream();
  assert.equal((await read(stream)).length, 6);
  await waitFor('the stream closed its file', () => spool.onDisk === 0);
  assert.equal(b.add(Buffer.alloc(6)), 'more');
  b.dispose();
  await waitFor('the disposed buffer gave its bytes back', () => spool.onDisk === 0 && spool.openFiles === 0);
});
