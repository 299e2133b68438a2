// The lock, audit and service-removal endpoints through app.request: scopes,
// hostile input, conflicts, and that a refused request changes nothing.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { ContainerInfo } from '../../../agent/docker.js';
import type { AuditEntry, OperatorLock } from '../../../shared/api-types.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

/** The tables these endpoints may touch; a refused request must leave them as they were. */
function state(): unknown {
  const d = f.store.dump();
  return { locks: d.operator_locks, audit: d.audit, routes: d.routes, seq: d.service_seq, deploys: d.deploys, releases: d.releases, maintenance: d.maintenance };
}

function lockPath(service: string, destination = ''): string {
  return `/v1/services/${service}/lock?destination=${destination}`;
}

async function put(path: string, message: unknown, key = f.keyA): Promise<Response> {
  return f.request('PUT', path, { key, body: JSON.stringify({ message }) });
}

describe('GET/PUT/DELETE /v1/services/:name/lock', () => {
  it('acquire, read, release: the lock names the key and comment; GET is read scope', async () => {
    const path = lockPath('locksvc');
    assert.deepEqual(await (await f.request('GET', path, { key: f.keyRead })).json(), { lock: null });

    const res = await put(path, 'db migration');
    assert.equal(res.status, 200);
    const { lock } = (await res.json()) as { lock: OperatorLock };
    assert.equal(lock.key_id, f.keyA.kid);
    assert.equal(lock.key_comment, 'test');
    assert.equal(lock.message, 'db migration');
    assert.match(lock.since, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(await (await f.request('GET', path, { key: f.keyRead })).json(), { lock });

    const released = await f.request('DELETE', path, { key: f.keyB });
    assert.equal(released.status, 200);
    assert.deepEqual(await released.json(), { released: lock });
    assert.deepEqual(await (await f.request('GET', path, { key: f.keyRead })).json(), { lock: null });
    const actions = f.store.audit.list({ service: 'locksvc', limit: 10 }).map((e) => `${e.action} ${e.key_id === f.keyA.kid ? 'A' : 'B'}`);
    assert.deepEqual(actions, ['lock.released B', 'lock.acquired A']);
  });

  it('a second acquire is 409 locked naming holder, since and message; nothing changes', async () => {
    const path = lockPath('twice', 'staging');
    const first = ((await (await put(path, 'first')).json()) as { lock: OperatorLock }).lock;
    const before = state();
    const err = await errorOf(await put(path, 'second', f.keyB));
    assert.deepEqual(err, { status: 409, code: 'locked', message: `twice@staging is locked by key ${f.keyA.kid} (test) since ${first.since}: first` });
    assert.deepEqual(state(), before);
  });

  it('a read key cannot acquire or release (403) and nothing changes', async () => {
    const path = lockPath('readonly');
    assert.equal((await put(path, 'held')).status, 200);
    const before = state();
    for (const res of [await put(path, 'mine', f.keyRead), await f.request('DELETE', path, { key: f.keyRead })]) {
      const err = await errorOf(res);
      assert.equal(err.status, 403);
      assert.match(err.message, /has scope read; this needs deploy/);
    }
    assert.deepEqual(state(), before);
  });

  it('DELETE without a lock is 404', async () => {
    assert.deepEqual(await errorOf(await f.request('DELETE', lockPath('unlocked'))), { status: 404, code: 'not_found', message: 'unlocked is not locked on this server' });
  });

  it('refuses malformed, oversized and unprintable bodies and bad parameters with 400/413, changing nothing', async () => {
    const before = state();
    const path = lockPath('hostile');
    const bodies: Array<[string, number]> = [
      ['', 400], ['not json', 400], ['{"message":', 400], ['[]', 400], ['{}', 400], ['{"message": 5}', 400],
      ['{"message": "ok", "extra": 1}', 400], ['{"message": ""}', 400], ['{"message": "   "}', 400],
      [JSON.stringify({ message: 'x'.repeat(501) }), 400], [JSON.stringify({ message: 'bell\u0007' }), 400],
      [JSON.stringify({ message: 'two\nlines' }), 400], [JSON.stringify({ message: 'bidi\u202E' }), 400],
      [JSON.stringify({ message: 'y'.repeat(300 * 1024) }), 413],
    ];
    for (const [body, status] of bodies) {
      const res = await f.request('PUT', path, { body });
      assert.equal(res.status, status, `${body.slice(0, 40)} → ${res.status}`);
    }
    const raw = await f.request('PUT', path, { body: '\xff\xfe' });
    assert.equal(raw.status, 400);
    for (const p of ['/v1/services/Bad_Name/lock', '/v1/services/a.b/lock', `/v1/services/${'x'.repeat(64)}/lock`, '/v1/services/ok/lock?destination=Nope',
      '/v1/services/ok/lock?destination=a&destination=b', '/v1/services/ok/lock?destinaton=x']) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await f.request(method, p, method === 'PUT' ? { body: '{"message":"m"}' } : {});
        assert.equal(res.status, 400, `${method} ${p}`);
      }
    }
    assert.deepEqual(state(), before);
  });

  it('refuses missing, forged and replayed tokens, changing nothing', async () => {
    const path = lockPath('forged');
    const body = JSON.stringify({ message: 'm' });
    const before = state();
    assert.equal((await f.request('PUT', path, { body, authorization: null })).status, 401);
    assert.equal((await f.request('PUT', path, { body, sign: { method: 'GET' } })).status, 401, 'signed for another method');
    assert.equal((await f.request('PUT', path, { body, sign: { path: lockPath('other') } })).status, 401, 'signed for another service');
    assert.equal((await f.request('PUT', path, { body, sign: { body: JSON.stringify({ message: 'other' }) } })).status, 401, 'signed for another body');
    assert.equal((await f.request('DELETE', path, { sign: { aud: 'someone-else' } })).status, 401, 'signed for another agent');
    // A read key claiming to be the deploy key: the signature does not verify.
    const forgedKid = await f.token('PUT', path, body, { key: f.keyRead });
    const [h, c, s] = forgedKid.split('.');
    const claims = JSON.parse(Buffer.from(c!, 'base64url').toString());
    const header = JSON.parse(Buffer.from(h!, 'base64url').toString());
    const swapped = [
      Buffer.from(JSON.stringify({ ...header, kid: f.keyA.kid })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...claims, iss: f.keyA.kid })).toString('base64url'),
      s,
    ].join('.');
    assert.equal((await f.request('PUT', path, { body, authorization: `Berth ${swapped}` })).status, 401);
    assert.deepEqual(state(), before);

    const authorization = `Berth ${await f.token('PUT', path, body)}`;
    assert.equal((await f.request('PUT', path, { body, authorization })).status, 200);
    const held = state();
    assert.equal((await errorOf(await f.request('PUT', path, { body, authorization }))).code, 'replayed');
    const del = `Berth ${await f.token('DELETE', path, '')}`;
    assert.equal((await f.request('DELETE', path, { authorization: del })).status, 200);
    assert.equal((await put(path, 'again')).status, 200);
    const relocked = state();
    assert.equal((await errorOf(await f.request('DELETE', path, { authorization: del }))).code, 'replayed', 'a replayed release does not release');
    assert.deepEqual(state(), relocked);
    assert.notDeepEqual(held, relocked);
  });

  it('POST /v1/releases is refused while locked, naming holder, since and message; nothing stored', async () => {
    const path = lockPath('demo');
    const { lock } = (await (await put(path, 'release freeze', f.keyB)).json()) as { lock: OperatorLock };
    const before = f.store.dump();
    const res = await f.postRelease(await f.manifest());
    assert.equal(res.status, 409);
    const body = (await res.json()) as { error: { code: string; message: string; hint: string } };
    assert.deepEqual(body.error, {
      code: 'locked',
      message: `demo is locked by key ${f.keyB.kid} (test) since ${lock.since}: release freeze`,
      hint: 'deploy lock release, or push with --lock-wait SECONDS',
    });
    assert.deepEqual(f.store.dump(), before);
    assert.equal((await f.request('DELETE', path)).status, 200);
    const ok = await f.postRelease(await f.manifest());
    assert.equal(ok.status, 202);
    const { deploy } = (await ok.json()) as { deploy: { id: number } };
    moveDeploy(f.store, deploy.id, 'DONE');
  });

  it('GET /v1/services/:name shows the lock', async () => {
    assert.equal((await put(lockPath('demo'), 'look')).status, 200);
    const { service } = (await (await f.request('GET', '/v1/services/demo', { key: f.keyRead })).json()) as { service: { lock: OperatorLock | null } };
    assert.equal(service.lock?.message, 'look');
    assert.equal((await f.request('DELETE', lockPath('demo'))).status, 200);
  });
});

describe('GET /v1/audit', () => {
  let svc: string;
  beforeEach(async () => {
    svc = `audit${Math.floor(Math.random() * 1e9)}`;
    for (const m of ['one', 'two', 'three']) {
      assert.equal((await put(lockPath(svc), m)).status, 200);
      assert.equal((await f.request('DELETE', lockPath(svc))).status, 200);
    }
    assert.equal((await put(lockPath(svc, 'staging'), 'elsewhere')).status, 200);
  });

  it('read scope; newest first; filtered by service and destination; limit and before page backwards', async () => {
    const get = async (q: string) => {
      const res = await f.request('GET', `/v1/audit${q}`, { key: f.keyRead });
      assert.equal(res.status, 200, q);
      return ((await res.json()) as { entries: AuditEntry[] }).entries;
    };
    const all = await get(`?service=${svc}`);
    assert.deepEqual(all.map((e) => `${e.action} ${String(e.detail.message)}`), [
      'lock.released three', 'lock.acquired three', 'lock.released two', 'lock.acquired two', 'lock.released one', 'lock.acquired one',
    ]);
    assert.ok(all.every((e) => e.service === svc && e.destination === ''));
    assert.deepEqual((await get(`?service=${svc}&destination=staging`)).map((e) => e.action), ['lock.acquired']);
    const page = await get(`?service=${svc}&limit=2`);
    assert.deepEqual(page, all.slice(0, 2));
    assert.deepEqual(await get(`?service=${svc}&limit=2&before=${page[1]!.id}`), all.slice(2, 4));
    const unfiltered = await get('');
    assert.ok(unfiltered.length <= 50 && unfiltered.length > 6);
    assert.ok(unfiltered.some((e) => e.action === 'trust.added'), 'trust changes are listed without a filter');
    assert.equal((await get('?limit=1000')).length, f.store.audit.list({ limit: 1000 }).length);
  });

  it('refuses bad parameters with 400 and missing or replayed tokens', async () => {
    for (const q of ['?limit=0', '?limit=1001', '?limit=abc', '?limit=1.5', '?limit=-1', '?limit=', '?before=0', '?before=-3', '?before=x',
      `?before=${'9'.repeat(20)}`, '?destination=staging', `?service=${svc}&destination=Bad`, '?service=UPPER', '?service=', '?servic=x',
      `?service=${svc}&service=${svc}`, '?limit=1&limit=2']) {
      const err = await errorOf(await f.request('GET', `/v1/audit${q}`, { key: f.keyRead }));
      assert.equal(err.status, 400, q);
    }
    assert.equal((await f.request('GET', '/v1/audit', { authorization: null })).status, 401);
    const authorization = `Berth ${await f.token('GET', '/v1/audit', '', { key: f.keyRead })}`;
    assert.equal((await f.request('GET', '/v1/audit', { authorization })).status, 200);
    assert.equal((await errorOf(await f.request('GET', '/v1/audit', { authorization }))).code, 'replayed');
    assert.equal((await f.request('GET', '/v1/audit?limit=5', { key: f.keyRead, sign: { path: '/v1/audit?limit=500' } })).status, 401);
  });
});

describe('DELETE /v1/services/:name', () => {
  function container(name: string, service: string, destination: string, running: boolean): ContainerInfo {
    return {
      id: `id-${name}`, name, running, state: running ? 'running' : 'exited', exitCode: running ? null : 0, ip: running ? '10.9.0.2' : null,
      labels: { 'berth.service': service, 'berth.kind': 'app', 'berth.role': 'web', 'berth.release': name.split('-').at(-1)!, ...(destination ? { 'berth.destination': destination } : {}) },
      createdAt: 0,
    };
  }

  async function deployed(service: string): Promise<number> {
    const res = await f.postRelease(await f.manifest({ service, sub: service, roles: { web: { env: { clear: {}, secret: {} }, proxy: { hosts: [`${service}.test`], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } } }));
    assert.equal(res.status, 202);
    const { deploy } = (await res.json()) as { deploy: { id: number } };
    f.store.routes.set(service, '', { service, hosts: [`${service}.test`], target: '10.9.0.2:8080' });
    return deploy.id;
  }

  beforeEach(() => {
    f.trust(f.keyB, 'admin');
    f.router.down = false;
  });

  it('admin: removes routes (published), every app container of this destination, current and maintenance; keeps seq; audits', async () => {
    const id = await deployed('gone');
    moveDeploy(f.store, id, 'DONE');
    f.store.setCurrent('gone', '', id);
    f.containers = [
      container('gone-web-v2', 'gone', '', true), container('gone-web-v1', 'gone', '', false),
      container('gone-web-staging-v1', 'gone', 'staging', true), container('kept-web-v1', 'kept', '', true),
    ];
    const seq = f.store.seq('gone', '');
    const published = f.router.accepted;
    const res = await f.request('DELETE', '/v1/services/gone?destination=', { key: f.keyB });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    assert.deepEqual(await res.json(), { removed: { containers: ['gone-web-v2', 'gone-web-v1'], routes: 1 } });
    assert.deepEqual(f.containers.map((c) => c.name), ['gone-web-staging-v1', 'kept-web-v1']);
    assert.equal(f.router.accepted, published + 1);
    assert.ok(!f.router.live.routes.some((r) => r.service === 'gone'), 'the router was sent a table without it');
    assert.equal(f.store.routes.all().some((r) => r.service === 'gone'), false);
    assert.equal(f.store.current('gone', ''), null);
    assert.equal(f.store.seq('gone', ''), seq);
    assert.equal(f.store.operatorLocks.get('gone', ''), null, 'the removal hold is released');
    const [audit] = f.store.audit.list({ service: 'gone', limit: 1 });
    assert.deepEqual([audit!.action, audit!.key_id, audit!.detail], ['service.removed', f.keyB.kid, { containers: ['gone-web-v2', 'gone-web-v1'], routes: 1 }]);

    const { service } = (await (await f.request('GET', '/v1/services/gone')).json()) as { service: { seq: number; current: unknown; routes: unknown[] } };
    assert.deepEqual([service.seq, service.current, service.routes], [seq, null, []]);
    // Again: nothing left, still fine.
    assert.deepEqual(await (await f.request('DELETE', '/v1/services/gone', { key: f.keyB })).json(), { removed: { containers: [], routes: 0 } });
  });

  it('deploy scope is not enough (403); nothing changes', async () => {
    const id = await deployed('needsadmin');
    moveDeploy(f.store, id, 'DONE');
    f.containers = [container('needsadmin-web-v1', 'needsadmin', '', true)];
    const before = state();
    const err = await errorOf(await f.request('DELETE', '/v1/services/needsadmin', { key: f.keyA }));
    assert.equal(err.status, 403);
    assert.match(err.message, /this needs admin/);
    assert.equal((await f.request('DELETE', '/v1/services/needsadmin', { key: f.keyRead })).status, 403);
    assert.deepEqual(state(), before);
    assert.equal(f.containers.length, 1);
  });

  it('409 while a deploy holds the service or an operator lock is held; nothing changes', async () => {
    const id = await deployed('busy');
    f.containers = [container('busy-web-v1', 'busy', '', true)];
    const before = state();
    const running = await errorOf(await f.request('DELETE', '/v1/services/busy', { key: f.keyB }));
    assert.equal(running.status, 409);
    assert.match(running.message, new RegExp(`busy is being deployed: deploy ${id}`));
    assert.deepEqual(state(), before);

    moveDeploy(f.store, id, 'DONE');
    assert.equal((await put(lockPath('busy'), 'keep')).status, 200);
    const locked = state();
    const held = await errorOf(await f.request('DELETE', '/v1/services/busy', { key: f.keyB }));
    assert.equal(held.status, 409);
    assert.match(held.message, /busy is locked by key .* \(test\) since .*: keep$/);
    assert.deepEqual(state(), locked);
    assert.equal(f.containers.length, 1);
    assert.equal((await f.request('DELETE', lockPath('busy'))).status, 200);
  });

  it('a router that refuses the new table: 502, routes restored, no container touched, service free again', async () => {
    const id = await deployed('norouter');
    moveDeploy(f.store, id, 'DONE');
    f.store.setCurrent('norouter', '', id);
    f.containers = [container('norouter-web-v1', 'norouter', '', true)];
    f.router.down = true;
    const before = state();
    const err = await errorOf(await f.request('DELETE', '/v1/services/norouter', { key: f.keyB }));
    assert.equal(err.status, 502);
    assert.match(err.message, /the router did not take the service off/);
    assert.deepEqual(f.containers.map((c) => c.name), ['norouter-web-v1']);
    assert.deepEqual(f.store.routes.all().filter((r) => r.service === 'norouter').length, 1);
    assert.equal(f.store.operatorLocks.get('norouter', ''), null);
    assert.equal(f.store.current('norouter', '')?.deploy_id, id, 'still the current release');
    assert.deepEqual(state(), before);
  });

  it('a container that cannot be removed: 502, and service.remove_failed audits what was removed', async () => {
    const id = await deployed('partial');
    moveDeploy(f.store, id, 'DONE');
    f.containers = [container('partial-web-v2', 'partial', '', true), container('partial-web-v1', 'partial', '', false)];
    f.failRemove.add('partial-web-v1');
    try {
      const err = await errorOf(await f.request('DELETE', '/v1/services/partial', { key: f.keyB }));
      assert.equal(err.status, 502);
      const message = 'partial: could not remove partial-web-v1 (removal of container partial-web-v1 is already in progress); removed partial-web-v2';
      assert.equal(err.message, message);
      const [audit] = f.store.audit.list({ service: 'partial', limit: 1 });
      assert.deepEqual([audit!.action, audit!.key_id, audit!.detail], ['service.remove_failed', f.keyB.kid, { containers: ['partial-web-v2'], error: message }]);
      assert.equal(f.store.operatorLocks.get('partial', ''), null, 'the hold is lifted');
    } finally {
      f.failRemove.clear();
    }
    // Again: finishes the job.
    assert.deepEqual(await (await f.request('DELETE', '/v1/services/partial', { key: f.keyB })).json(), { removed: { containers: ['partial-web-v1'], routes: 0 } });
  });

  it('mid-removal: a deploy key cannot release the hold (409), a push is told a removal is in progress; nothing changes', async () => {
    const id = await deployed('midway');
    moveDeploy(f.store, id, 'DONE');
    f.containers = [container('midway-web-v1', 'midway', '', true)];
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    const stopping = new Promise<void>((r) => (f.onStop = async () => { r(); await gate; }));
    const removal = f.request('DELETE', '/v1/services/midway', { key: f.keyB });
    try {
      await stopping;
      const before = state();
      const release = await errorOf(await f.request('DELETE', lockPath('midway'), { key: f.keyA }));
      assert.equal(release.status, 409);
      assert.match(release.message, new RegExp(`^midway is being removed by key ${f.keyB.kid} \\(test\\) since `));
      const push = await f.postRelease(await f.manifest({ service: 'midway', sub: 'midway' }));
      const body = (await push.json()) as { error: { code: string; message: string; hint: string } };
      assert.deepEqual([push.status, body.error.code], [409, 'locked']);
      assert.match(body.error.message, /^midway is being removed by key/);
      assert.equal(body.error.hint, 'a removal (deploy remove) is in progress; push again once it has finished');
      const again = await errorOf(await f.request('DELETE', '/v1/services/midway', { key: f.keyB }));
      assert.deepEqual([again.status, again.code], [409, 'locked']);
      assert.deepEqual(state(), before);
    } finally {
      f.onStop = undefined;
      letGo();
    }
    assert.equal((await removal).status, 200);
    assert.equal(f.store.operatorLocks.get('midway', ''), null);
  });

  it('a hold left by an agent stopped mid-removal: lock release refuses, deploy remove again finishes it', async () => {
    const id = await deployed('stale');
    moveDeploy(f.store, id, 'DONE');
    f.containers = [container('stale-web-v1', 'stale', '', true)];
    f.store.removal.begin({ service: 'stale', destination: '', keyId: f.keyB.kid });
    f.restart();
    const before = state();
    const release = await errorOf(await f.request('DELETE', lockPath('stale')));
    assert.equal(release.status, 409);
    assert.match(release.message, /^stale is being removed by key/);
    assert.deepEqual(state(), before);
    const res = await f.request('DELETE', '/v1/services/stale', { key: f.keyB });
    assert.deepEqual(await res.json(), { removed: { containers: ['stale-web-v1'], routes: 1 } });
    assert.equal(f.store.operatorLocks.get('stale', ''), null);
    assert.equal(f.store.audit.list({ service: 'stale', limit: 1 })[0]?.action, 'service.removed');
  });

  it('404 for a service never deployed here; 400 for bad names and parameters', async () => {
    const before = state();
    assert.deepEqual(await errorOf(await f.request('DELETE', '/v1/services/nothere', { key: f.keyB })), { status: 404, code: 'not_found', message: 'service nothere has never been deployed on this agent' });
    for (const p of ['/v1/services/Bad', '/v1/services/x?destination=UP', '/v1/services/x?force=1', '/v1/services/x?destination=a&destination=b']) {
      assert.equal((await f.request('DELETE', p, { key: f.keyB })).status, 400, p);
    }
    assert.equal((await f.request('DELETE', '/v1/services/x', { authorization: null })).status, 401);
    assert.deepEqual(state(), before);
  });
});
