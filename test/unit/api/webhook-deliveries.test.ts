// GET /v1/services/:name/webhook/deliveries: newest first, bounded, to a read
// key; malformed queries are refused like on every other route.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiFixture, errorOf } from '../../support/agent-api.js';

let f: ApiFixture;
const ids: string[] = [];

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
  const res = await f.postRelease(await f.manifest({ version: 'v1' }));
  assert.equal(res.status, 202, await res.clone().text());
  for (let i = 0; i < 30; i += 1) {
    ids.push(f.store.webhooks.record({ service: 'demo', destination: '', source: 'generic', outcome: 'ignored', reason: `r${i}`, tag: 'main' }).id);
  }
  f.store.webhooks.record({ service: 'demo', destination: 'staging', source: 'generic', outcome: 'refused', reason: 'other destination' });
});
after(() => f.cleanup());

const list = async (query: string) => {
  const res = await f.request('GET', `/v1/services/demo/webhook/deliveries${query}`, { key: f.keyRead });
  return { status: res.status, body: (await res.json()) as { deliveries: Array<{ id: string; reason: string }> } };
};

describe('GET /v1/services/:name/webhook/deliveries', () => {
  it('lists 20 by default, newest first, of the destination asked for', async () => {
    const { status, body } = await list('?destination=');
    assert.equal(status, 200);
    assert.deepEqual(body.deliveries.map((d) => d.id), ids.slice(10).reverse());
    assert.deepEqual((await list('?limit=3')).body.deliveries.map((d) => d.reason), ['r29', 'r28', 'r27']);
    assert.deepEqual((await list('?limit=200')).body.deliveries.length, 30);
  });

  it('refuses bad limits, unknown and repeated parameters with 400, and an unknown service with 404', async () => {
    for (const q of ['?limit=0', '?limit=201', '?limit=abc', '?limit=', '?limt=3', '?limit=1&limit=2', '?destination=a&destination=b']) {
      const res = await f.request('GET', `/v1/services/demo/webhook/deliveries${q}`, { key: f.keyRead });
      assert.equal(res.status, 400, q);
      assert.equal((await errorOf(res)).code, 'invalid_input', q);
    }
    const none = await f.request('GET', '/v1/services/nope/webhook/deliveries', { key: f.keyRead });
    assert.equal(none.status, 404);
  });
});
