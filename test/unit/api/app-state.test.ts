// POST /v1/services/:name/app/stop and /app/start against a real store, the
// real route publisher (in-memory router) and the real stop/start logic over
// a fake Docker: the route leaves the router before the answer, containers
// stop and start, the stop outlives a restart, audit rows, roles, a failed
// start stays stopped, and refusals change nothing (the token is not spent).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { containerName } from '../../../agent/core/containers.js';
import type { ContainerInfo } from '../../../agent/docker.js';
import type { AppStateResult } from '../../../shared/app-state.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import type { ServiceDetail } from '../../../shared/service-detail.js';
import { ApiFixture, errorOf, type RequestOptions } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
let m: ManifestPayload;
const STOP = '/v1/services/demo/app/stop?destination=';
const START = '/v1/services/demo/app/start?destination=';
const PROXY = { hosts: ['demo.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 1 } };

function container(role: string, running: boolean): ContainerInfo {
  return {
    id: `id-${role}`, name: containerName(m, role), running, state: running ? 'running' : 'exited', exitCode: running ? null : 0, ip: running ? '10.9.0.2' : null,
    labels: { 'berth.service': 'demo', 'berth.kind': 'app', 'berth.role': role, 'berth.release': m.version },
    createdAt: 0,
  };
}

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
  const res = await f.postRelease(await f.manifest({
    deploy_timeout: 1, readiness_delay: 0,
    roles: { web: { env: { clear: {}, secret: {} }, proxy: PROXY }, jobs: { env: { clear: {}, secret: {} } } },
  }));
  assert.equal(res.status, 202, await res.clone().text());
  const id = ((await res.json()) as { deploy: { id: number } }).deploy.id;
  moveDeploy(f.store, id, 'DONE');
  f.store.setCurrent('demo', '', id);
  m = f.store.getRelease(id)!.payload as ManifestPayload;
  f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.9.0.2:8080', health_path: '/up' });
  f.store.routes.set('other', '', { service: 'other', hosts: ['other.test'], target: '10.9.0.6:80', health_path: '/up' });
  await f.request('PUT', '/v1/services/demo/maintenance?destination=', { body: '{}' });
  await f.request('DELETE', '/v1/services/demo/maintenance?destination=');
});
after(() => f.cleanup());
beforeEach(() => {
  f.probeOk = true;
});

const post = (path: string, body?: unknown, opts: RequestOptions = {}) =>
  f.request('POST', path, { ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }), ...opts });
const routed = (service: string) => f.router.live.routes.find((r) => r.service === service);
const answer = async (res: Response): Promise<AppStateResult> => {
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { app: AppStateResult }).app;
};
const lastAudit = () => f.store.audit.list({ service: 'demo', destination: '', limit: 1 })[0];

async function refused(res: Response, status: number, code: string, message: RegExp): Promise<void> {
  const snapshot = f.store.dump();
  const err = await errorOf(res);
  assert.equal(err.status, status, JSON.stringify(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  assert.deepEqual(f.store.dump(), snapshot, 'the store is unchanged');
}

describe('app stop and start', () => {
  it('stop -r web: the route leaves the router, the container stops, audit app.stop; jobs and other services untouched', async () => {
    f.containers = [container('web', true), container('jobs', true)];
    const app = await answer(await post(STOP, { roles: ['web'] }));
    assert.deepEqual(app.roles, [{ role: 'web', stopped: true, changed: true, containers: [containerName(m, 'web')] }]);
    assert.equal(routed('demo'), undefined, 'the router no longer serves demo');
    assert.ok(routed('other'), 'other services keep their routes');
    assert.equal(f.containers.find((c) => c.id === 'id-web')?.running, false);
    assert.equal(f.containers.find((c) => c.id === 'id-jobs')?.running, true);
    const entry = lastAudit();
    assert.equal(entry?.action, 'app.stop');
    assert.deepEqual(entry?.detail, { version: m.version, roles: ['web'], already_stopped: [] });
    const detail = (await (await f.request('GET', '/v1/services/demo', { key: f.keyRead })).json()) as { service: ServiceDetail };
    assert.deepEqual(detail.service.stopped?.map((s) => s.role), ['web']);
    assert.deepEqual(detail.service.routes, [], 'a stopped route is not listed');
  });

  it('the stop outlives an agent restart: later route sends still leave it out', async () => {
    f.restart();
    await f.request('PUT', '/v1/services/demo/maintenance?destination=', { body: '{}' });
    assert.equal(routed('demo'), undefined);
    await f.request('DELETE', '/v1/services/demo/maintenance?destination=');
    assert.equal(routed('demo'), undefined);
    assert.deepEqual(f.store.appState.get('demo', '').map((s) => s.role), ['web']);
  });

  it('a failed start: 502 naming the health check, what it started is stopped again, still stopped and unrouted', async () => {
    f.probeOk = false;
    const err = await errorOf(await post(START, undefined));
    assert.equal(err.status, 502);
    assert.match(err.message, /start failed: health check GET \/up on port 8080 did not return 2xx/);
    assert.equal(f.containers.find((c) => c.id === 'id-web')?.running, false);
    assert.equal(routed('demo'), undefined);
    assert.deepEqual(f.store.appState.get('demo', '').map((s) => s.role), ['web']);
    assert.notEqual(lastAudit()?.action, 'app.start', 'no app.start recorded');
  });

  it('start: the container starts, passes its check, the route comes back at its new address; audit app.start', async () => {
    const app = await answer(await post(START, undefined));
    assert.deepEqual(app.roles.map((r) => [r.role, r.stopped, r.changed]), [['jobs', false, false], ['web', false, true]]);
    assert.equal(f.containers.find((c) => c.id === 'id-web')?.running, true);
    assert.equal(routed('demo')?.target, '10.9.0.7:8080');
    assert.deepEqual(f.store.appState.get('demo', ''), []);
    assert.equal(lastAudit()?.action, 'app.start');
    assert.deepEqual(lastAudit()?.detail.roles, ['web']);
  });

  it('start when nothing is stopped: 200, changed false, nothing recorded', async () => {
    const before = f.store.audit.list({ limit: 100 }).length;
    const app = await answer(await post(START, { roles: ['web'] }));
    assert.deepEqual(app.roles, [{ role: 'web', stopped: false, changed: false, containers: [containerName(m, 'web')] }]);
    assert.equal(f.store.audit.list({ limit: 100 }).length, before);
  });

  it('stop every role, then again: the second changes nothing but is audited; start brings both back', async () => {
    f.containers = [container('web', true), container('jobs', true)];
    const first = await answer(await post(STOP, {}));
    assert.deepEqual(first.roles.map((r) => [r.role, r.changed]), [['jobs', true], ['web', true]]);
    assert.ok(f.containers.every((c) => !c.running));
    const second = await answer(await post(STOP, {}));
    assert.deepEqual(second.roles.map((r) => [r.role, r.stopped, r.changed]), [['jobs', true, false], ['web', true, false]]);
    assert.deepEqual(lastAudit()?.detail.already_stopped, ['jobs', 'web']);
    await answer(await post(START, {}));
    assert.ok(f.containers.every((c) => c.running));
    assert.ok(routed('demo'));
  });

  it('refusals change nothing: read key 403, unknown service/destination/role 404, bad bodies 400, forged/expired tokens 401, a replayed one 409', async () => {
    await refused(await post(STOP, {}, { key: f.keyRead }), 403, 'forbidden', /this needs deploy/);
    await refused(await post('/v1/services/ghost/app/stop', {}), 404, 'not_found', /never been deployed/);
    await refused(await post('/v1/services/demo/app/stop?destination=staging', {}), 404, 'not_found', /never been deployed/);
    await refused(await post(STOP, { roles: ['db'] }), 404, 'not_found', /role db is not in release/);
    await refused(await post(START, { roles: ['db'] }), 404, 'not_found', /role db is not in release/);
    for (const body of [{ roles: [] }, { roles: ['Web!'] }, { roles: 'web' }, { role: 'web' }, [1], 'null']) {
      await refused(await post(STOP, body), 400, 'invalid_input', /request body|roles|role/);
    }
    await refused(await post('/v1/services/demo/app/stop?destinaton=x', {}), 400, 'invalid_input', /unknown query parameter/);
    // A token signed for another path, an expired one, one for another agent, and a replayed one.
    await refused(await post(STOP, '{}', { sign: { path: START } }), 401, 'unauthorized', /htu does not match the request path/);
    await refused(await post(STOP, '{}', { sign: { now: Math.floor(Date.now() / 1000) - 3600 } }), 401, 'unauthorized', /expired/);
    await refused(await post(STOP, '{}', { sign: { aud: 'another-agent' } }), 401, 'unauthorized', /audience is not this agent/);
    const token = await f.token('POST', START, '{}');
    await answer(await post(START, '{}', { authorization: `Berth ${token}` }));
    await refused(await post(START, '{}', { authorization: `Berth ${token}` }), 409, 'replayed', /already used/);
    assert.ok(routed('demo'));
  });

  it('stop while a deploy holds the service: 409 naming it, nothing changed; a start that has nothing to do still answers', async () => {
    const res = await f.postRelease(await f.manifest());
    assert.equal(res.status, 202);
    await refused(await post(STOP, {}), 409, 'locked', /is being deployed: deploy \d+/);
    assert.ok(routed('demo'));
    await answer(await post(START, {}));
  });
});
