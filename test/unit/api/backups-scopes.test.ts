// A backup holds the app's data: download and restore (from the agent's file
// or an upload) need an admin key. A deploy key (it may run a backup) and a
// read key are refused 403 before anything is looked up, read or claimed.
// The download's record header stays small whatever the record's texts hold.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backupRecordSchema } from '../../../shared/api-responses.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trust(f.keyA, 'deploy');
  f.trust(f.keyRead, 'read');
  f.trust(f.keyB, 'admin');
});
after(() => f.cleanup());

const base = '/v1/services/shop/backups';

it('download, restore and the upload restore are admin only', async () => {
  const audit = f.store.audit.list({ limit: 50 }).length;
  for (const key of [f.keyA, f.keyRead]) {
    for (const [method, path, body] of [
      ['GET', `${base}/files/1?destination=`, ''],
      ['POST', `${base}/db/restore?destination=`, '{}'],
      ['PUT', `${base}/db/restore/1?destination=`, 'plaintext'],
    ] as const) {
      const err = await errorOf(await f.request(method, path, { key, body }));
      assert.equal(err.status, 403, `${method} ${path}: ${JSON.stringify(err)}`);
    }
  }
  assert.equal(f.store.audit.list({ limit: 50 }).length, audit, 'nothing recorded');
});

it('the download\'s x-berth-backup header holds the record with its long texts cut, far below a client\'s header limit', async () => {
  const bytes = Buffer.from('a backup');
  const file = join(f.dir, 'db-1.dump.zst');
  writeFileSync(file, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const started = f.store.backups.start({ service: 'shop', destination: '', backup: 'db', kind: 'accessory', trigger: 'manual', compression: 'zstd', recipient: null, release: 'r1', forRelease: null, image: null });
  // Verify output in another script: 4000 characters of three UTF-8 bytes each, control characters too.
  const output = '\u001b'.repeat(1000) + 'отчёт'.repeat(600);
  f.store.backups.finish(started.id, { outcome: 'ok', reason: '', file, size: bytes.length, rawSize: 8, sha256: sha, plainSha256: sha, verify: 'passed', verifyOutput: output });
  const res = await f.request('GET', `${base}/files/${started.id}?destination=`, { key: f.keyB });
  assert.equal(res.status, 200);
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
  const header = res.headers.get('x-berth-backup') ?? '';
  assert.ok(header.length < 8192, `${header.length} characters`);
  const record = backupRecordSchema.parse(JSON.parse(Buffer.from(header, 'base64url').toString('utf8')));
  assert.equal(record.id, started.id);
  assert.equal(record.sha256, sha);
  assert.ok(record.verify_output.length <= 201 && output.startsWith(record.verify_output.slice(0, -1)));
});
