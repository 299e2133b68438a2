// POST /v1/services/:name/proxy/pause and /proxy/resume against a real store
// and the real route publisher (the router is in memory): the router gets the
// pause flag before the answer, scopes, validation, nothing changed on
// refusal, audit rows, and the pause in the service detail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PauseState } from '../../../shared/api-types.js';
import type { ServiceDetail } from '../../../shared/service-detail.js';
import { ApiFixture, errorOf, type RequestOptions } from '../../support/agent-api.js';

let f: ApiFixture;
const PAUSE = '/v1/services/demo/proxy/pause?destination=';
const RESUME = '/v1/services/demo/proxy/resume?destination=';

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
  const res = await f.postRelease(await f.manifest());
  assert.equal(res.status, 202);
  f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.210.0.5:8080', health_path: '/up' });
  f.store.routes.set('other', '', { service: 'other', hosts: ['other.test'], target: '10.210.0.6:80', health_path: '/up' });
});
after(() => f.cleanup());

const post = (path: string, body: unknown, opts: RequestOptions = {}) =>
  f.request('POST', path, { ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }), ...opts });
const pauseOf = (service: string) => f.router.live.routes.find((r) => r.service === service)?.pause;

async function refused(res: Response, status: number, code: string, message: RegExp): Promise<void> {
  const snapshot = f.store.dump();
  const err = await errorOf(res);
  assert.equal(err.status, status, JSON.stringify(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  assert.deepEqual(f.store.dump(), snapshot, 'the store is unchanged');
}

describe('proxy pause and resume', () => {
  it('pause: 200 with the state, the router holds the service (default 30 s), audit proxy.pause, shown in the detail', async () => {
    const res = await post(PAUSE, undefined);
    assert.equal(res.status, 200);
    const { pause } = (await res.json()) as { pause: PauseState };
    assert.equal(pause.timeout, 30);
    assert.equal(pause.key_id, f.keyA.kid);
    assert.deepEqual(pauseOf('demo'), { timeout: 30 });
    assert.equal(pauseOf('other'), undefined, 'other services are not paused');
    const [entry] = f.store.audit.list({ service: 'demo', destination: '', limit: 1 });
    assert.equal(entry?.action, 'proxy.pause');
    assert.deepEqual(entry?.detail, { timeout: 30 });
    const detail = await f.request('GET', '/v1/services/demo', { key: f.keyRead });
    assert.deepEqual(((await detail.json()) as { service: ServiceDetail }).service.pause, pause);
  });

  it('a new timeout changes the pause, keeping since; resume clears it with proxy.resume', async () => {
    const since = f.store.pauses.get('demo', '')?.since;
    const res = await post(PAUSE, { timeout: 2.5 });
    assert.equal(((await res.json()) as { pause: PauseState }).pause.since, since);
    assert.deepEqual(pauseOf('demo'), { timeout: 2.5 });
    const resumed = await post(RESUME, undefined);
    assert.equal(resumed.status, 200);
    assert.deepEqual(await resumed.json(), { pause: null });
    assert.equal(pauseOf('demo'), undefined);
    assert.equal(f.store.pauses.get('demo', ''), null);
    const [entry] = f.store.audit.list({ service: 'demo', destination: '', limit: 1 });
    assert.equal(entry?.action, 'proxy.resume');
  });

  it('a maintenance change keeps the pause in the route set sent', async () => {
    assert.equal((await post(PAUSE, { timeout: 10 })).status, 200);
    assert.equal((await f.request('PUT', '/v1/services/demo/maintenance?destination=', { body: '{}' })).status, 200);
    assert.deepEqual(pauseOf('demo'), { timeout: 10 });
    assert.equal((await f.request('DELETE', '/v1/services/demo/maintenance?destination=')).status, 200);
    assert.equal((await post(RESUME, undefined)).status, 200);
  });

  it('a read key gets 403; an unknown service 404; bad timeouts and bodies 400; nothing changes', async () => {
    await refused(await post(PAUSE, {}, { key: f.keyRead }), 403, 'forbidden', /this needs deploy/);
    await refused(await post(RESUME, undefined, { key: f.keyRead }), 403, 'forbidden', /this needs deploy/);
    await refused(await post('/v1/services/ghost/proxy/pause', {}), 404, 'not_found', /never been deployed/);
    await refused(await post('/v1/services/demo/proxy/pause?destination=staging', {}), 404, 'not_found', /never been deployed/);
    for (const body of [{ timeout: 0 }, { timeout: -1 }, { timeout: 3601 }, { timeout: '30' }, { timeout: 30, until: 1 }, [30], 'null']) {
      await refused(await post(PAUSE, body), 400, 'invalid_input', /request body|timeout|until/);
    }
    await refused(await post(RESUME, '{}'), 400, 'invalid_input', /resume takes no request body/);
    assert.equal(pauseOf('demo'), undefined);
  });

  it('a router that is down: 502, and the pause is not recorded', async () => {
    const snapshot = f.store.dump();
    f.router.down = true;
    try {
      const err = await errorOf(await post(PAUSE, {}));
      assert.equal(err.status, 502);
      assert.match(err.message, /router did not accept the route table/);
    } finally {
      f.router.down = false;
    }
    assert.deepEqual(f.store.dump().pauses, snapshot.pauses);
    assert.equal(f.store.pauses.get('demo', ''), null);
  });
});
