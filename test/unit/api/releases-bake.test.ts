// The manifest's bake field at the agent's door: a valid window is stored with
// the release; anything else is refused with a 400 naming the field, nothing stored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

describe('POST /v1/releases with bake', () => {
  for (const [what, bake] of [['zero', 0], ['over an hour', 3601], ['fractional', 1.5], ['a string', '15'], ['negative', -5], ['null', null]] as const) {
    it(`refuses bake ${what}: 400 naming bake, nothing stored`, async () => {
      const jws = await f.rawManifest({ ...f.manifestPayload(), bake });
      const before = f.store.dump();
      const err = await errorOf(await f.postRelease(jws));
      assert.equal(err.status, 400, err.message);
      assert.equal(err.code, 'invalid_input');
      assert.match(err.message, /\bbake\b/);
      assert.deepEqual(f.store.dump(), before);
    });
  }

  it('accepts 1..3600 and keeps it in the stored release the engine will read', async () => {
    for (const bake of [1, 3600]) {
      const res = await f.postRelease(await f.manifest({ bake }));
      assert.equal(res.status, 202, JSON.stringify(await res.clone().json()));
      const { deploy } = (await res.json()) as { deploy: { id: number } };
      assert.equal(f.store.getRelease(deploy.id)?.payload.bake, bake);
      moveDeploy(f.store, deploy.id, 'DONE');
    }
  });
});
