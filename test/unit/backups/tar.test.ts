import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkedArchive, judgeArchive, repackArchive } from '../../../agent/backups/tar.js';
import { tarArchive, type TarEntry } from '../../support/tar-writer.js';

async function collect(input: Buffer, through: NodeJS.ReadWriteStream): Promise<Buffer> {
  const out: Buffer[] = [];
  // Small chunks: entries and markers straddle chunk boundaries.
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += 300) chunks.push(input.subarray(i, i + 300));
  await pipeline(Readable.from(chunks), through, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

const good: TarEntry[] = [
  { name: './' },
  { name: './sub/' },
  { name: './sub/a.txt', data: 'hello' },
  { name: './line\nbreak ünï', data: 'x'.repeat(2000), mode: 0o600 },
  { name: './link', type: 'symlink', linkname: 'sub/a.txt' },
  { name: './hard', type: 'link', linkname: './sub/a.txt' },
];

test('checkedArchive passes the bytes through unchanged and counts entries', async () => {
  const input = tarArchive(good);
  const { stream, done } = checkedArchive();
  const out = await collect(input, stream);
  assert.ok(out.equals(input));
  assert.deepEqual(await done, { entries: 6, bytes: input.length, root: { mode: 0o755, uid: 0, gid: 0 } });
});

test('checkedArchive fails on a refused entry, naming it', async () => {
  const { stream, done } = checkedArchive();
  await assert.rejects(collect(tarArchive([{ name: './' }, { name: '../x', data: 'evil' }]), stream), /archive entry "\.\.\/x" refused/);
  await assert.rejects(done, /"\.\.\/x"/);
});

test('checkedArchive fails on an archive without its end marker, or cut inside an entry, or empty', async () => {
  for (const input of [
    tarArchive(good, { end: false }),
    tarArchive(good).subarray(0, 1536),
    Buffer.alloc(0),
    Buffer.concat([tarArchive(good, { end: false }), Buffer.alloc(512)]),
  ]) {
    const { stream, done } = checkedArchive();
    await assert.rejects(collect(input, stream));
    await assert.rejects(done);
  }
});

test('repackArchive emits a fresh archive of what the policy judged', async () => {
  const out = await collect(tarArchive(good), repackArchive());
  const check = await judgeArchive(Readable.from([out]));
  assert.equal(check.entries, 6);
  assert.ok(out.includes(Buffer.from('sub/a.txt')));
  assert.ok(!out.includes(Buffer.from('./sub/a.txt')), 'names are normalized');
  assert.ok(out.includes(Buffer.from('x'.repeat(2000))));
});

test('repackArchive refuses a device before emitting it', async () => {
  await assert.rejects(collect(tarArchive([{ name: './' }, { name: './null', type: 'char', devmajor: 1, devminor: 3 }]), repackArchive()), /"\.\/null" refused: type character-device/);
});
