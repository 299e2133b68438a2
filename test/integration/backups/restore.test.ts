// Restores against a real engine, through the API (buildApp over the engine
// fixture's store): a named volume round trip (odd names, modes, empty
// directories, a relative symlink, a hard link; the writers and the accessory
// stopped and started again) compared by a listing made
// inside a container; a corrupted stored file refused with the volume
// unchanged; an accessory dump restored through its restore command; the
// verify step; the upload restore of an "encrypted" backup (right body,
// wrong body, forged and replayed tokens).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyDump } from '../../../agent/backups/verify.js';
import { backupEventSchema } from '../../../shared/api-responses.js';
import { agentTag } from '../../../agent/core/containers.js';
import { tarArchive, type TarEntry } from '../../support/tar-writer.js';
import { docker, dockerOk } from '../../support/docker-cli.js';
import { startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { restoreApi, storeBackup, type RestoreApi } from '../../support/backup-fixtures.js';

let f: EngineFixture;
let api: RestoreApi;
let image = '';
let volume = '';
const RECIPIENT = `age1${'q'.repeat(58)}`;

const accessory = () => ({ db: { image, directories: [{ source: 'data', target: '/data' }] } });
const backups = () => ({
  files: { kind: 'volume', volume, accessory: 'db', writers: ['web'] },
  db: { kind: 'accessory', accessory: 'db', dump: ['sh', '-c', 'cat /data/db.txt'], restore: ['sh', '-c', 'mkdir -p /data && cat > /data/db.txt'], verify: ['sh', '-c', 'grep -q "^ok" /data/db.txt'] },
  secret: { kind: 'volume', volume, recipient: RECIPIENT },
  dir: { kind: 'directory', accessory: 'db', directory: 'data' },
  hung: { kind: 'accessory', accessory: 'db', dump: ['sh', '-c', 'cat /data/db.txt'], restore: ['sh', '-c', 'sleep 120'], timeout: 1 },
});

before(async () => {
  f = await startEngineFixture('restore');
  image = await f.digestOf('v1');
  volume = `${f.service}-files`;
  const d = await f.deploy(f.manifest('r1', image, { accessories: accessory(), backups: backups() }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  api = await restoreApi(f);
});
after(async () => {
  await f?.close();
  docker(f.engineHost, ['volume', 'rm', '-f', volume]);
});

const q = '?destination=';
const path = (backup: string, id?: number) => `/v1/services/${f.service}/backups/${backup}/restore${id === undefined ? '' : `/${id}`}${q}`;
/** What a container sees in the volume: name, mode, size and type of everything, sorted. */
const listing = async (): Promise<string[]> => {
  const out = await dockerOk(f.engineHost, ['run', '--rm', '-v', `${volume}:/data`, image, 'sh', '-c', "cd /data && find . -exec stat -c '%n|%a|%u:%g|%s|%F//' {} + && readlink rel-link 2>/dev/null; true"]);
  // Directory sizes depend on the filesystem.
  return out.split('//\n').map((l) => l.replace(/\|\d+\|directory$/, '|-|directory')).sort();
};
const audit = () => f.store.audit.list({ service: f.service, limit: 50 }).map((e) => e.action);

const odd: TarEntry[] = [
  { name: './', mode: 0o750, uid: 1000, gid: 1000 },
  { name: './with space.txt', data: 'spaces', mode: 0o644 },
  { name: './new\nline', data: 'newline', mode: 0o600 },
  { name: './ünïcødé ✓.txt', data: 'unicode' },
  { name: './-leading-dash', data: 'dash', mode: 0o755 },
  { name: './setuid', data: '#!/bin/sh\n', mode: 0o4755 },
  { name: './empty/', mode: 0o700 },
  { name: './sub/', mode: 0o755 },
  { name: './sub/deep.bin', data: Buffer.alloc(70_000, 7), mode: 0o640, uid: 999, gid: 999 },
  { name: './rel-link', type: 'symlink', linkname: 'sub/deep.bin' },
  { name: './hard', type: 'link', linkname: './with space.txt' },
];

test('a volume restore writes the archive exactly: odd names, modes (setuid kept), owners, empty dirs, symlink, hard link', async () => {
  await dockerOk(f.engineHost, ['run', '--rm', '-v', `${volume}:/data`, image, 'sh', '-c', 'echo stale > /data/stale && mkdir -p /data/old/dir']);
  const { record } = await storeBackup(f, tarArchive(odd), { backup: 'files', kind: 'volume' });
  const res = await api.call('POST', path('files'), JSON.stringify({ id: record.id }));
  assert.equal(res.status, 200);
  const last = res.lines.at(-1) as { event: string; restored?: boolean };
  assert.deepEqual([res.lines[0]?.event, last.event, last.restored], ['started', 'ended', true], JSON.stringify(res.lines));
  assert.ok(res.lines.some((l) => String(l.message ?? '').includes('archive checked: 11 entries')));
  for (const line of res.lines) assert.deepEqual(backupEventSchema.parse(line), line, 'every line is a backup event as the CLI reads it');
  const seen = await listing();
  assert.deepEqual(seen, [
    '.|750|1000:1000|-|directory',
    './-leading-dash|755|0:0|4|regular file',
    './empty|700|0:0|-|directory',
    './hard|644|0:0|6|regular file',
    './new\nline|600|0:0|7|regular file',
    './rel-link|777|0:0|12|symbolic link',
    './setuid|4755|0:0|10|regular file',
    './sub/deep.bin|640|999:999|70000|regular file',
    './sub|755|0:0|-|directory',
    './with space.txt|644|0:0|6|regular file',
    './ünïcødé ✓.txt|644|0:0|7|regular file',
    'sub/deep.bin\n',
  ].sort());
  // The hard link is one file with its target (one inode).
  assert.equal(await dockerOk(f.engineHost, ['run', '--rm', '-v', `${volume}:/data`, image, 'sh', '-c', 'cat "/data/with space.txt" /data/hard; echo; stat -c %i "/data/with space.txt" /data/hard | uniq | wc -l']), 'spacesspaces\n1\n');
  assert.ok(!seen.includes('stale'), 'the volume was emptied first');
  // The writers and the accessory were stopped for the write and run again.
  const steps = res.lines.map((l) => String(l.message ?? ''));
  for (const step of [/^stopping writer .*-web-r1-/, /^stopping accessory db/, /^started accessory db again/, /^started .*-web-r1-.* again/]) {
    assert.ok(steps.some((m) => step.test(m)), `${step} in ${JSON.stringify(steps)}`);
  }
  const running = await dockerOk(f.engineHost, ['ps', '--format', '{{.Names}}', '--filter', `label=berth.service=${f.service}`]);
  assert.match(running, /-web-r1-/);
  assert.match(running, new RegExp(`${f.service}-db-`));
  assert.ok(audit().includes('backup.restored'));
  // The throwaway container is gone.
  assert.equal((await dockerOk(f.engineHost, ['ps', '-aq', '--filter', `label=berth.service=${f.service}`, '--filter', 'label=berth.kind=backup'])).trim(), '');
});

test('a volume another running container mounts is not emptied: 409 target_in_use, the writers started again', async () => {
  const before = await listing();
  const { record } = await storeBackup(f, tarArchive([{ name: './' }, { name: './x', data: 'new' }]), { backup: 'files', kind: 'volume' });
  const other = `${f.service}-bystander`;
  await dockerOk(f.engineHost, ['run', '-d', '--name', other, '-v', `${volume}:/x`, image]);
  try {
    const res = await api.call('POST', path('files'), JSON.stringify({ id: record.id }));
    assert.equal(res.status, 200);
    const last = res.lines.at(-1) as { error?: { code: string; message: string } };
    assert.equal(last.error?.code, 'target_in_use', JSON.stringify(res.lines));
    assert.match(last.error?.message ?? '', new RegExp(other));
    assert.deepEqual(await listing(), before, 'nothing was emptied or written');
    const acc = `${f.service}-db-${agentTag(f.agentId)}`;
    assert.equal((await dockerOk(f.engineHost, ['inspect', '-f', '{{.State.Running}}', acc])).trim(), 'true', 'the accessory stopped for the restore runs again');
  } finally {
    await docker(f.engineHost, ['rm', '-f', other]);
  }
});

test('a corrupted stored file is refused 409 backup_corrupt before anything changes', async () => {
  const before = await listing();
  const { record, file } = await storeBackup(f, tarArchive([{ name: './' }, { name: './x', data: 'new' }]), { backup: 'files', kind: 'volume' });
  const bytes = await readFile(file);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 0xff;
  await writeFile(file, bytes);
  const res = await api.call('POST', path('files'), JSON.stringify({ id: record.id }));
  assert.equal(res.status, 409);
  assert.equal((res.lines[0] as { error: { code: string } }).error.code, 'backup_corrupt');
  assert.deepEqual(await listing(), before);
  assert.equal(audit()[0], 'backup.refused');
  // A record of another kind than the backup now has (a dump is no archive): refused.
  const other = await storeBackup(f, Buffer.from('a dump'), { backup: 'files', kind: 'accessory' });
  const kind = await api.call('POST', path('files'), JSON.stringify({ id: other.record.id }));
  assert.equal(kind.status, 409);
  assert.equal((kind.lines[0] as { error: { code: string } }).error.code, 'backup_kind_changed');
  assert.deepEqual(await listing(), before);
});

test('an encrypted record is refused by POST (409 backup_encrypted); the upload restore takes its plaintext', async () => {
  const raw = tarArchive([{ name: './' }, { name: './uploaded.txt', data: 'from upload' }]);
  const { record, plain } = await storeBackup(f, raw, { backup: 'secret', kind: 'volume', recipient: RECIPIENT, stored: Buffer.concat([Buffer.from('age-encryption.org/v1\n'), Buffer.alloc(4096, 1)]) });
  const refused = await api.call('POST', path('secret'), JSON.stringify({ id: record.id }));
  assert.equal(refused.status, 409);
  assert.equal((refused.lines[0] as { error: { code: string } }).error.code, 'backup_encrypted');

  const before = await listing();
  // Wrong body, rightly signed: refused, nothing written, no temp file left.
  const wrong = Buffer.concat([plain.subarray(0, -1), Buffer.from([plain.at(-1)! ^ 1])]);
  const bad = await api.call('PUT', path('secret', record.id), wrong);
  assert.equal(bad.status, 409, JSON.stringify(bad.lines));
  assert.equal((bad.lines[0] as { error: { code: string } }).error.code, 'backup_corrupt');
  // The right body under a token for another body: the bh check refuses it.
  const forged = await api.call('PUT', path('secret', record.id), plain, { body: wrong });
  assert.equal(forged.status, 401);
  // A token that does not verify: refused before a byte of the body is stored.
  const unsigned = await api.call('PUT', path('secret', record.id), plain, { authorization: 'Berth eyJhbGciOiJFZERTQSJ9.e30.AAAA' });
  assert.equal(unsigned.status, 401);
  // Too large for the record.
  const large = await api.call('PUT', path('secret', record.id), Buffer.concat([plain, Buffer.alloc(record.size! + 1)]));
  assert.equal(large.status, 413);
  assert.deepEqual(await listing(), before);

  const token = await api.token('PUT', path('secret', record.id), plain);
  const ok = await api.call('PUT', path('secret', record.id), plain, { authorization: `Berth ${token}` });
  assert.equal(ok.status, 200);
  assert.equal((ok.lines.at(-1) as { restored?: boolean }).restored, true, JSON.stringify(ok.lines));
  assert.match((await listing()).join('\n'), /uploaded\.txt/);
  const replayed = await api.call('PUT', path('secret', record.id), plain, { authorization: `Berth ${token}` });
  assert.equal(replayed.status, 409);
  const dir = join(f.stateDir, 'backups', f.service, 'secret');
  assert.ok(!(await readdir(dir)).some((n) => n.endsWith('.upload')), 'no temp upload is left');
});

test('an accessory dump goes through its restore command; verify passes a good dump and fails a broken one', async () => {
  const acc = `${f.service}-db-${agentTag(f.agentId)}`;
  await dockerOk(f.engineHost, ['exec', acc, 'sh', '-c', 'echo old > /data/db.txt']);
  const { record, file } = await storeBackup(f, Buffer.from('ok restored\n'), { backup: 'db', kind: 'accessory' });
  const res = await api.call('POST', path('db'), '{}');
  assert.equal(res.status, 200);
  assert.equal((res.lines.at(-1) as { restored?: boolean }).restored, true, JSON.stringify(res.lines));
  assert.equal(await dockerOk(f.engineHost, ['exec', acc, 'cat', '/data/db.txt']), 'ok restored\n');
  assert.ok(record.id > 0);

  const m = f.store.getRelease(f.store.current(f.service, '')!.deploy_id)!.payload;
  const deps = { docker: f.docker, agentId: f.agentId, stateDir: f.stateDir, network: 'berth', sealingPrivateJwk: f.sealingPrivateJwk, retryMs: 100 };
  const input = { service: f.service, destination: '', backup: 'db', spec: m.backups!.db!, accessory: m.accessories!.db!, compression: 'zstd' as const, signal: AbortSignal.timeout(30_000) };
  assert.deepEqual(await verifyDump(deps, { ...input, file }), { passed: true, output: '' });
  const broken = await storeBackup(f, Buffer.from('garbage\n'), { backup: 'db', kind: 'accessory' });
  assert.equal((await verifyDump(deps, { ...input, file: broken.file })).passed, false);
  assert.equal((await dockerOk(f.engineHost, ['ps', '-aq', '--filter', 'label=berth.kind=backup', '--filter', `label=berth.service=${f.service}`])).trim(), '');

  // With a health check, the restore waits until the server is healthy: a restore run early would leave /tmp/early.
  const slow = { ...m.accessories!.db!, cmd: ['sh', '-c', 'sleep 2; touch /tmp/ready; exec /start.sh'], options: { 'health-cmd': 'test -f /tmp/ready', 'health-interval': '500ms', 'health-retries': '100' } };
  const careful = {
    ...m.backups!.db!,
    restore: ['sh', '-c', 'test -f /tmp/ready || { touch /tmp/early; exit 1; }; mkdir -p /data && cat > /data/db.txt'],
    verify: ['sh', '-c', 'test ! -f /tmp/early && grep -q "^ok" /data/db.txt'],
  };
  assert.deepEqual(await verifyDump(deps, { ...input, accessory: slow, spec: careful, file }), { passed: true, output: '' });
});

test('a restore command that hangs fails after the backup\'s timeout; the backup is free again and the accessory still runs', async () => {
  const acc = `${f.service}-db-${agentTag(f.agentId)}`;
  await storeBackup(f, Buffer.from('ok hung\n'), { backup: 'hung', kind: 'accessory' });
  const res = await api.call('POST', path('hung'), '{}');
  assert.equal(res.status, 200);
  const last = res.lines.at(-1) as { error?: { code: string; message: string } };
  assert.equal(last.error?.code, 'restore_timed_out', JSON.stringify(res.lines));
  assert.match(last.error?.message ?? '', /timed out after 1s/);
  const again = await api.call('POST', path('hung'), '{}');
  assert.equal((again.lines.at(-1) as { error?: { code: string } }).error?.code, 'restore_timed_out', 'not backup_busy: the first restore let go of it');
  assert.equal((await dockerOk(f.engineHost, ['inspect', '-f', '{{.State.Running}}', acc])).trim(), 'true');
});

test('a directory backup of an accessory directory is restored into it, the accessory stopped and started again', async () => {
  const acc = `${f.service}-db-${agentTag(f.agentId)}`;
  const { record } = await storeBackup(f, tarArchive([{ name: './', mode: 0o755 }, { name: './db.txt', data: 'from the directory backup\n' }]), { backup: 'dir', kind: 'directory' });
  const res = await api.call('POST', path('dir'), JSON.stringify({ id: record.id }));
  assert.equal((res.lines.at(-1) as { restored?: boolean }).restored, true, JSON.stringify(res.lines));
  assert.equal(await dockerOk(f.engineHost, ['exec', acc, 'cat', '/data/db.txt']), 'from the directory backup\n');
  assert.deepEqual(await readdir(join(f.stateDir, 'accessories', f.service, 'db', 'dirs', 'data')), ['db.txt']);
});
