// A backup holds the app's data: download and restore (from the agent's file
// or an upload) need an admin key. A deploy key (it may run a backup) and a
// read key are refused 403 before anything is looked up, read or claimed.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { ApiFixture, errorOf } from '../../support/agent-api.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
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
