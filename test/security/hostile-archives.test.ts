// Hostile archives stored as a volume backup and restored through the API:
// each is refused naming the entry, before anything is stopped or written —
// the target volume's content and a sentinel file outside it (in a directory
// beside the state dir) stay as they were; the refusal is audited.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarArchive, type TarEntry } from '../support/tar-writer.js';
import { docker, dockerOk } from '../support/docker-cli.js';
import { startEngineFixture, type EngineFixture } from '../support/engine-fixture.js';
import { restoreApi, storeBackup, type RestoreApi } from '../support/backup-fixtures.js';

let f: EngineFixture;
let api: RestoreApi;
let image = '';
let volume = '';
let outside = '';
const SENTINEL = 'sentinel: must not change\n';

before(async () => {
  f = await startEngineFixture('hostile');
  image = await f.digestOf('v1');
  volume = `${f.service}-data`;
  outside = await mkdtemp(join(tmpdir(), 'berth-sentinel-'));
  await writeFile(join(outside, 'sentinel'), SENTINEL);
  const d = await f.deploy(f.manifest('r1', image, { backups: { data: { kind: 'volume', volume } } }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  api = await restoreApi(f);
  await dockerOk(f.engineHost, ['run', '--rm', '-v', `${volume}:/data`, image, 'sh', '-c', 'echo live > /data/live.txt && mkdir /data/dir && echo x > /data/dir/x']);
});
after(async () => {
  await f?.close();
  docker(f.engineHost, ['volume', 'rm', '-f', volume]);
  await rm(outside, { recursive: true, force: true });
});

const content = async () => dockerOk(f.engineHost, ['run', '--rm', '-v', `${volume}:/data`, image, 'sh', '-c', 'cd /data && find . | sort && cat live.txt dir/x']);
const root = { name: './' };
// Entries are built when the test runs: `outside` exists only then.
const CASES: Array<{ what: string; entries: () => TarEntry[]; entry: string; reason: RegExp }> = [
  { what: 'a symlink to an absolute path', entries: () => [root, { name: './out', type: 'symlink', linkname: outside }], entry: '"./out"', reason: /absolute path/ },
  { what: 'a symlink out by ..', entries: () => [root, { name: './up', type: 'symlink', linkname: '../../../../etc' }], entry: '"./up"', reason: /leaves the archive root/ },
  { what: 'a write through an archive symlink', entries: () => [root, { name: './d', type: 'symlink', linkname: '.' }, { name: './d/../x', data: 'evil' }], entry: '"./d/../x"', reason: /\.\./ },
  { what: 'a file below an archive symlink', entries: () => [root, { name: './d', type: 'symlink', linkname: 'sub' }, { name: './d/x', data: 'evil' }], entry: '"./d/x"', reason: /symlink/ },
  { what: 'a hard link out', entries: () => [root, { name: './h', type: 'link', linkname: '../../../../etc/passwd' }], entry: '"./h"', reason: /outside/ },
  { what: 'a hard link to a host path', entries: () => [root, { name: './h', type: 'link', linkname: join(outside, 'sentinel') }], entry: '"./h"', reason: /outside/ },
  { what: 'a ../ path', entries: () => [root, { name: '../x', data: 'evil' }], entry: '"../x"', reason: /\.\./ },
  { what: 'an absolute path', entries: () => [root, { name: '/etc/x', data: 'evil' }], entry: '"/etc/x"', reason: /absolute path/ },
  { what: 'a character device', entries: () => [root, { name: './null', type: 'char', devmajor: 1, devminor: 3 }], entry: '"./null"', reason: /character-device/ },
  { what: 'a FIFO', entries: () => [root, { name: './fifo', type: 'fifo' }], entry: '"./fifo"', reason: /fifo/ },
  { what: 'a late bad entry after good ones', entries: () => [root, { name: './ok.txt', data: 'fine' }, { name: './dev', type: 'block', devmajor: 8, devminor: 0 }], entry: '"./dev"', reason: /block-device/ },
];

for (const c of CASES) {
  test(`${c.what} is refused naming the entry; nothing inside or outside the volume changes`, async () => {
    const before = await content();
    const { record } = await storeBackup(f, tarArchive(c.entries()), { backup: 'data', kind: 'volume' });
    const res = await api.call('POST', `/v1/services/${f.service}/backups/data/restore?destination=`, JSON.stringify({ id: record.id }));
    assert.equal(res.status, 200, JSON.stringify(res.lines));
    const error = res.lines.at(-1) as { error?: { code: string; message: string } };
    assert.equal(error.error?.code, 'archive_entry_refused', JSON.stringify(res.lines));
    assert.ok(error.error.message.includes(`archive entry ${c.entry} refused`), error.error.message);
    assert.match(error.error.message, c.reason);
    assert.ok(!res.lines.some((l) => /emptying|writing|stopping/.test(String(l.message ?? ''))), 'nothing was stopped or written');
    assert.equal(await content(), before);
    assert.equal(await readFile(join(outside, 'sentinel'), 'utf8'), SENTINEL);
    assert.deepEqual(await readdir(outside), ['sentinel']);
    assert.equal(f.store.audit.list({ service: f.service, limit: 1 })[0]?.action, 'backup.refused');
  });
}

test('an archive cut short is refused before anything is written', async () => {
  const before = await content();
  const { record } = await storeBackup(f, tarArchive([root, { name: './big', data: Buffer.alloc(5000, 1) }]).subarray(0, 2048), { backup: 'data', kind: 'volume' });
  const res = await api.call('POST', `/v1/services/${f.service}/backups/data/restore?destination=`, JSON.stringify({ id: record.id }));
  assert.ok('error' in (res.lines.at(-1) ?? {}), JSON.stringify(res.lines));
  assert.equal(await content(), before);
});
