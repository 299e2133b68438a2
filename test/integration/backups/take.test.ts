// Taking backups against a real engine: accessory dumps (docker exec), volume
// and directory archives (a never-started container of the empty image), the
// writer's failures (exit code, nothing written, a full disk), encryption,
// retention, and the download of a stored file (corrupted or not) over the API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupRecord } from '../../../shared/api-types.js';
import { decryptStream } from '../../../shared/age.js';
import { dockerOk } from '../../support/docker-cli.js';
import { SECRET, sha, startBackupFixture, type BackupFixture } from '../../support/backup-fixture.js';

let x: BackupFixture;
before(async () => {
  x = await startBackupFixture('bak');
  await x.firstDeploy();
});
after(async () => x?.close());

const ref = (backup: string) => x.ref(backup);
const run = (backup: string) => x.backups.runNow(ref(backup), 'test-key');
const download = (id: number) => x.api('GET', `/v1/services/${x.f.service}/backups/files/${id}`);
const audits = (action: string) => x.f.store.audit.list({ service: x.f.service, limit: 200 }).filter((a) => a.action === action);

test('an ok dump: the row, the file with its recorded sha256 and size, and the API download', async () => {
  const r = await run('dump');
  assert.equal(r.outcome, 'ok', r.reason);
  assert.equal(r.trigger, 'manual');
  assert.equal(r.release, 'r1');
  assert.equal(r.image, x.image);
  const row = x.f.store.backups.get(r.id)!;
  assert.match(row.file!, new RegExp(`/backups/${x.f.service}/dump/dump-${r.id}-\\d{8}T\\d{6}Z\\.dump\\.zst$`));
  const bytes = readFileSync(row.file!);
  assert.equal(sha(bytes), r.sha256);
  assert.equal(bytes.length, r.size);
  assert.equal(r.plain_sha256, r.sha256);
  assert.equal(r.raw_size, Buffer.from(Array.from({ length: 5000 }, (_, i) => `${i + 1}\n`).join('')).length);
  assert.equal(execFileSync('zstd', ['-d', '-c', row.file!]).toString().split('\n')[4999], '5000');
  assert.equal(audits('backup.ok').length, 1);

  const res = await download(r.id);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(sha(body), r.sha256);
  assert.equal(res.headers.get('x-berth-sha256'), r.sha256);
  assert.equal(JSON.parse(Buffer.from(res.headers.get('x-berth-backup')!, 'base64url').toString()).id, r.id);
});

test('a failing dump: failed row with the stderr tail (secrets replaced), no file, not the newest good, audited', async () => {
  const good = x.f.store.backups.newestGood(ref('dump'))!.record.id;
  const r = await run('fail');
  assert.equal(r.outcome, 'failed');
  assert.match(r.reason, /exited with code 3: boom \[secret DB_TOKEN\]/);
  assert.ok(!r.reason.includes(SECRET));
  assert.equal(r.stored, false);
  assert.equal(x.f.store.backups.get(r.id)!.file, null);
  assert.equal(x.f.store.backups.newestGood(ref('dump'))!.record.id, good);
  assert.equal(x.f.store.backups.newestGood(ref('fail')), undefined);
  assert.ok(audits('backup.failed').some((a) => a.detail.id === r.id));
  assert.deepEqual(readdirSync(join(x.f.stateDir, 'backups', x.f.service, 'fail')), [], 'no temp file left');
});

test('a dump that writes nothing fails', async () => {
  const r = await run('empty');
  assert.equal(r.outcome, 'failed');
  assert.equal(r.reason, 'the dump wrote nothing');
});

test('a full destination: failed "the disk is full", no temp file left', async () => {
  const r = await run('full');
  assert.equal(r.outcome, 'failed');
  assert.match(r.reason, new RegExp(`^the disk is full at ${x.tmpfs}/`));
  assert.deepEqual(readdirSync(join(x.tmpfs, x.f.service, 'full')), []);
});

test('a stored file corrupted on disk still downloads, and its bytes no longer match the header sha', async () => {
  const r = await run('dump');
  const file = x.f.store.backups.get(r.id)!.file!;
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(file, bytes);
  const res = await download(r.id);
  assert.equal(res.status, 200);
  const body = Buffer.from(await res.arrayBuffer());
  assert.equal(body.length, r.size);
  assert.notEqual(sha(body), res.headers.get('x-berth-sha256'));
});

test('retention: with keep 2, a third good run deletes the oldest file and marks its row', async () => {
  const rows: BackupRecord[] = [];
  for (let i = 0; i < 3; i++) rows.push(await run('dump'));
  const stored = x.f.store.backups.storedRows(ref('dump')).map((r) => r.record.id);
  assert.deepEqual(stored, [rows[2]!.id, rows[1]!.id]);
  const oldest = x.f.store.backups.get(rows[0]!.id)!;
  assert.equal(oldest.record.stored, false);
  assert.ok(!existsSync(oldest.file!));
  assert.ok(audits('backup.deleted').some((a) => a.detail.id === rows[0]!.id));
  assert.equal((await download(rows[0]!.id)).status, 404);
});

test('a volume backup: the stored .tar.zst decompresses to a tar holding the files', async () => {
  await dockerOk(x.f.engineHost, ['volume', 'create', x.volume]);
  await dockerOk(x.f.engineHost, ['run', '--rm', '-v', `${x.volume}:/v`, '--entrypoint', 'sh', x.image, '-c', 'echo hi > /v/a.txt && mkdir /v/sub && echo there > /v/sub/b.txt']);
  const r = await run('files');
  assert.equal(r.outcome, 'ok', r.reason);
  const file = x.f.store.backups.get(r.id)!.file!;
  assert.match(file, /\.tar\.zst$/);
  const listing = execFileSync('sh', ['-c', `zstd -d -c '${file}' | tar -tvf -`]).toString();
  assert.match(listing, /a\.txt/);
  assert.match(listing, /sub\/b\.txt/);
  const a = execFileSync('sh', ['-c', `zstd -d -c '${file}' | tar -xOf - ./a.txt`]).toString();
  assert.equal(a, 'hi\n');
  assert.deepEqual(await dockerOk(x.f.engineHost, ['ps', '-aq', '--filter', `label=berth.kind=backup`, '--filter', `label=berth.service=${x.f.service}`]), '', 'the archive container is removed');
});

test("a directory backup: the accessory's kept directory as .tar.gz; a host path the guardrails refuse fails", async () => {
  const r = await run('dir');
  assert.equal(r.outcome, 'ok', r.reason);
  const file = x.f.store.backups.get(r.id)!.file!;
  assert.match(file, /\.tar\.gz$/);
  assert.equal(execFileSync('sh', ['-c', `tar -xzOf '${file}' ./x | tail -n 1`]).toString(), '5000\n');
  const refused = await run('etc');
  assert.equal(refused.outcome, 'failed');
  assert.match(refused.reason, /^directory \/etc is refused by this agent's guardrails/);
});

test('an encrypted backup: an age file that decrypts with the identity to the plaintext of plain_sha256', async () => {
  const r = await run('sealed');
  assert.equal(r.outcome, 'ok', r.reason);
  const file = x.f.store.backups.get(r.id)!.file!;
  assert.match(file, /\.dump\.zst\.age$/);
  const bytes = readFileSync(file);
  assert.equal(bytes.subarray(0, 21).toString('latin1'), 'age-encryption.org/v1');
  assert.equal(sha(bytes), r.sha256);
  const d = decryptStream(x.identityFile);
  const chunks: Buffer[] = [];
  d.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((res, rej) => (d.on('end', res), d.on('error', rej)));
  d.end(bytes);
  await done;
  const plain = Buffer.concat(chunks);
  assert.equal(sha(plain), r.plain_sha256);
  assert.notEqual(r.plain_sha256, r.sha256);
});
