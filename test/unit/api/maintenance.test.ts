// PUT/DELETE /v1/services/:name/maintenance against a real store and the real
// route publisher (the router is in memory): scopes, validation, nothing
// changed on refusal, audit rows, and an answer only once the router serves it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MaintenanceState } from '../../../shared/api-types.js';
import type { ServiceDetail } from '../../../shared/service-detail.js';
import { signRequest } from '../../../shared/request-token.js';
import { ApiFixture, errorOf, type RequestOptions } from '../../support/agent-api.js';

let f: ApiFixture;
const PATH = '/v1/services/demo/maintenance?destination=';

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
  // A deployed service with a route stored before routes carried a health path.
  const res = await f.postRelease(await f.manifest());
  assert.equal(res.status, 202);
  f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.210.0.5:8080' });
  f.store.routes.set('other', '', { service: 'other', hosts: ['other.test'], target: '10.210.0.6:80', health_path: '/healthz' });
});
after(() => f.cleanup());

const put = (body: unknown, opts: RequestOptions = {}, path = PATH) =>
  f.request('PUT', path, { ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }), ...opts });
const del = (opts: RequestOptions = {}, path = PATH) => f.request('DELETE', path, opts);

/** The refused request answered `status`/`code`/message and changed nothing at all. */
async function refused(res: Response, snapshot: Record<string, unknown[]>, status: number, code: string, message: RegExp): Promise<void> {
  const err = await errorOf(res);
  assert.equal(err.status, status, JSON.stringify(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  assert.deepEqual(f.store.dump(), snapshot, 'the store is unchanged');
}

function maintenanceOf(routeService: string) {
  return f.router.live.routes.find((r) => r.service === routeService)?.maintenance;
}

describe('PUT /v1/services/:name/maintenance', () => {
  it('a deploy key turns it on: 200 with the state, the router serves the flag, an audit row names the key', async () => {
    const res = await put({ message: 'Back at 5' });
    assert.equal(res.status, 200);
    const { maintenance } = (await res.json()) as { maintenance: MaintenanceState };
    assert.equal(maintenance.service, 'demo');
    assert.equal(maintenance.destination, '');
    assert.equal(maintenance.key_id, f.keyA.kid);
    assert.equal(maintenance.message, 'Back at 5');
    assert.ok(!Number.isNaN(Date.parse(maintenance.since)));

    assert.deepEqual(f.router.live.routes, [
      { service: 'demo', hosts: ['demo.test'], target: '10.210.0.5:8080', health_path: '/up', maintenance: { message: 'Back at 5' } },
      { service: 'other', hosts: ['other.test'], target: '10.210.0.6:80', health_path: '/healthz' },
    ]);
    const [entry] = f.store.audit.list({ service: 'demo', destination: '', limit: 1 });
    assert.equal(entry?.action, 'maintenance.on');
    assert.equal(entry?.key_id, f.keyA.kid);
    assert.deepEqual(entry?.detail, { message: 'Back at 5' });

    const detail = await f.request('GET', '/v1/services/demo', { key: f.keyRead });
    assert.deepEqual(((await detail.json()) as { service: ServiceDetail }).service.maintenance, maintenance);
  });

  it('without a message (no body or {}) the default message is used', async () => {
    for (const body of [undefined, {}]) {
      assert.equal((await del()).status, 200);
      const res = await put(body);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { maintenance: MaintenanceState }).maintenance.message, 'This service is down for maintenance.');
      assert.deepEqual(maintenanceOf('demo'), { message: 'This service is down for maintenance.' });
    }
  });

  it('a read key gets 403 and nothing changes', async () => {
    assert.equal((await del()).status, 200);
    const snapshot = f.store.dump();
    const accepted = f.router.accepted;
    await refused(await put({ message: 'x' }, { key: f.keyRead }), snapshot, 403, 'forbidden', /has scope read; this needs deploy/);
    await refused(await del({ key: f.keyRead }), snapshot, 403, 'forbidden', /this needs deploy/);
    assert.equal(f.router.accepted, accepted, 'nothing sent to the router');
    assert.equal(maintenanceOf('demo'), undefined);
  });

  it('an unknown service or destination gets 404; bad names 400; nothing changes', async () => {
    const snapshot = f.store.dump();
    await refused(await put({}, {}, '/v1/services/ghost/maintenance'), snapshot, 404, 'not_found', /ghost has never been deployed on this agent/);
    await refused(await put({}, {}, '/v1/services/demo/maintenance?destination=staging'), snapshot, 404, 'not_found', /demo@staging has never been deployed/);
    await refused(await del({}, '/v1/services/ghost/maintenance'), snapshot, 404, 'not_found', /never been deployed/);
    await refused(await put({}, {}, '/v1/services/Bad..Name/maintenance'), snapshot, 400, 'invalid_input', /service name .* is not valid/);
    await refused(await put({}, {}, '/v1/services/demo/maintenance?destination=%0Aevil'), snapshot, 400, 'invalid_input', /destination "\\nevil" is not valid/);
  });

  it('unknown and repeated query parameters get 400 and change nothing (a typo must not act on the default destination)', async () => {
    assert.equal((await del()).status, 200);
    const snapshot = f.store.dump();
    const accepted = f.router.accepted;
    for (const path of ['/v1/services/demo/maintenance?destinaton=staging', '/v1/services/demo/maintenance?destination=&force=1']) {
      await refused(await put({ message: 'typo' }, {}, path), snapshot, 400, 'invalid_input', /unknown query parameter "(destinaton|force)"/);
      await refused(await del({}, path), snapshot, 400, 'invalid_input', /unknown query parameter/);
    }
    const repeated = '/v1/services/demo/maintenance?destination=&destination=staging';
    await refused(await put({}, {}, repeated), snapshot, 400, 'invalid_input', /query parameter "destination" is given 2 times/);
    await refused(await del({}, repeated), snapshot, 400, 'invalid_input', /is given 2 times/);
    assert.equal(f.router.accepted, accepted, 'nothing sent to the router');
    assert.equal(maintenanceOf('demo'), undefined);
  });

  it('malformed, oversized, non-printable or unexpected bodies get 400 and change nothing', async () => {
    const snapshot = f.store.dump();
    const cases: Array<[string, RegExp]> = [
      [JSON.stringify({ message: 'x'.repeat(1001) }), /message: must be at most 1000 characters/],
      [JSON.stringify({ message: 'two\nlines' }), /message: must be printable text on one line/],
      [JSON.stringify({ message: 'esc \u001b[31m red' }), /must be printable/],
      [JSON.stringify({ message: 'rtl \u202e override' }), /must be printable/],
      [JSON.stringify({ message: '   ' }), /message: must not be empty/],
      [JSON.stringify({ message: 42 }), /message/],
      [JSON.stringify({ message: 'ok', until: 'tomorrow' }), /until/],
      [JSON.stringify(['Back at 5']), /request body/],
      [JSON.stringify('Back at 5'), /request body/],
      ['null', /request body/],
      ['{"message": "unterminated', /not valid JSON/],
    ];
    for (const [body, message] of cases) {
      const res = await put(body);
      const err = await errorOf(res);
      assert.equal(err.status, 400, `${body.slice(0, 60)} → ${JSON.stringify(err)}`);
      assert.match(err.message, message, body.slice(0, 60));
      assert.ok(err.message.length < 500, 'the error does not echo an oversized message');
    }
    const bytes = new Uint8Array([0x7b, 0xff, 0x7d]);
    const token = await signRequest({ privateJwk: f.keyA.privateJwk, kid: f.keyA.kid, aud: f.identity.agentId, method: 'PUT', pathAndQuery: PATH, body: bytes });
    const invalidUtf8 = await f.app.request(PATH, { method: 'PUT', body: bytes, headers: { authorization: `Berth ${token}`, 'content-type': 'application/json' } });
    assert.deepEqual([invalidUtf8.status, (await errorOf(invalidUtf8)).code], [400, 'malformed_json']);
    await refused(await del({ body: '{"message":"x"}' }), snapshot, 400, 'invalid_input', /DELETE takes no request body/);
    assert.deepEqual(f.store.dump(), snapshot);
    assert.equal(maintenanceOf('demo'), undefined);
  });

  it('a body over the API limit gets 413 before anything else', async () => {
    const snapshot = f.store.dump();
    await refused(await put({ message: 'x'.repeat(300 * 1024) }), snapshot, 413, 'payload_too_large', /larger than/);
  });

  it('a replayed request gets 409 and changes nothing', async () => {
    const body = JSON.stringify({ message: 'replay me' });
    const authorization = `Berth ${await f.token('PUT', PATH, body)}`;
    assert.equal((await put(body, { authorization })).status, 200);
    const snapshot = f.store.dump();
    await refused(await put(body, { authorization }), snapshot, 409, 'replayed', /replayed|already used/);
  });

  it('a token signed for another path or body is refused', async () => {
    const snapshot = f.store.dump();
    const other = await put({ message: 'mine' }, { sign: { body: JSON.stringify({ message: 'theirs' }) } });
    assert.equal(other.status, 401);
    const otherPath = await put({ message: 'mine' }, { sign: { path: '/v1/services/other/maintenance?destination=' } });
    assert.equal(otherPath.status, 401);
    assert.deepEqual(f.store.dump().maintenance, snapshot.maintenance);
    assert.deepEqual(f.store.dump().audit, snapshot.audit);
  });

  it('the same message again records nothing new; a new message is recorded with the previous one', async () => {
    assert.equal((await del()).status, 200);
    assert.equal((await put({ message: 'first' })).status, 200);
    const audits = f.store.audit.list({ service: 'demo', destination: '', limit: 1000 }).length;
    const since = f.store.maintenance.get('demo', '')?.since;
    assert.equal((await put({ message: 'first' })).status, 200);
    assert.equal(f.store.audit.list({ service: 'demo', destination: '', limit: 1000 }).length, audits);
    const res = await put({ message: 'second' }, { key: f.keyB });
    const { maintenance } = (await res.json()) as { maintenance: MaintenanceState };
    assert.equal(maintenance.since, since, 'still the same maintenance');
    assert.equal(maintenance.key_id, f.keyB.kid);
    const [entry] = f.store.audit.list({ service: 'demo', destination: '', limit: 1 });
    assert.deepEqual(entry?.detail, { message: 'second', previous_message: 'first' });
    assert.deepEqual(maintenanceOf('demo'), { message: 'second' });
  });

  it('a router that is down: 502 naming the router, and maintenance is not recorded', async () => {
    assert.equal((await del()).status, 200);
    const tables = () => ({ m: f.store.dump().maintenance, a: f.store.dump().audit, v: f.store.dump().route_version });
    const snapshot = tables();
    f.router.down = true;
    try {
      const err = await errorOf(await put({ message: 'Back at 5' }));
      assert.equal(err.status, 502);
      assert.equal(err.code, 'upstream_failed');
      assert.match(err.message, /router did not accept the route table/);
      assert.deepEqual(tables(), snapshot);
    } finally {
      f.router.down = false;
    }
    assert.equal(maintenanceOf('demo'), undefined);
  });
});

describe('DELETE /v1/services/:name/maintenance', () => {
  it('ends maintenance: 200 {maintenance: null}, the router serves again, maintenance.off is recorded', async () => {
    assert.equal((await put({ message: 'Back at 5' })).status, 200);
    const res = await del({ key: f.keyB });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { maintenance: null });
    assert.equal(maintenanceOf('demo'), undefined);
    assert.equal(f.store.maintenance.get('demo', ''), null);
    const [entry] = f.store.audit.list({ service: 'demo', destination: '', limit: 1 });
    assert.equal(entry?.action, 'maintenance.off');
    assert.equal(entry?.key_id, f.keyB.kid);
    assert.equal(entry?.detail.message, 'Back at 5');
  });

  it('when already off: 200 and no audit row', async () => {
    const audits = f.store.audit.list({ service: 'demo', destination: '', limit: 1000 }).length;
    const res = await del();
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { maintenance: null });
    assert.equal(f.store.audit.list({ service: 'demo', destination: '', limit: 1000 }).length, audits);
  });

  it('survives an agent restart: the state is in the store', async () => {
    assert.equal((await put({ message: 'kept' })).status, 200);
    f.restart();
    assert.equal(f.store.maintenance.get('demo', '')?.message, 'kept');
    assert.equal((await del()).status, 200);
  });
});
