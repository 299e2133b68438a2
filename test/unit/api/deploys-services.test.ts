import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DeployEvent, DeployRecord } from '../../../shared/api-types.js';
import { serviceDetailResponseSchema, type LastDeploy } from '../../../shared/service-detail.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

async function accepted(): Promise<number> {
  const res = await f.postRelease(await f.manifest());
  assert.equal(res.status, 202);
  return ((await res.json()) as { deploy: { id: number } }).deploy.id;
}

interface SseMessage {
  event: string;
  id?: string;
  data: string;
}

function parseSse(text: string): SseMessage[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':'))
    .map((block) => {
      const msg: SseMessage = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(': ');
        const value = rest.join(': ');
        if (field === 'event') msg.event = value;
        if (field === 'id') msg.id = value;
        if (field === 'data') msg.data += value;
      }
      return msg;
    });
}

describe('GET /v1/deploys/:id', () => {
  it('returns the deploy and its events to a read key', async () => {
    const id = await accepted();
    f.store.addEvent(id, 'VERIFIED', 'signature ok');
    const res = await f.request('GET', `/v1/deploys/${id}`, { key: f.keyRead });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { deploy: DeployRecord; events: DeployEvent[] };
    assert.equal(body.deploy.id, id);
    assert.equal(body.deploy.state, 'RECEIVED');
    assert.deepEqual(body.events.map((e) => e.state), ['RECEIVED', 'VERIFIED']);
    moveDeploy(f.store, id, 'DONE');
  });

  it('unknown id → 404, malformed id → 400, no token → 401', async () => {
    assert.deepEqual(await errorOf(await f.request('GET', '/v1/deploys/9999')), { status: 404, code: 'not_found', message: 'deploy 9999 not found' });
    assert.equal((await errorOf(await f.request('GET', '/v1/deploys/abc'))).status, 400);
    assert.equal((await errorOf(await f.request('GET', '/v1/deploys/1', { authorization: null }))).status, 401);
  });

  it('a GET token cannot be replayed', async () => {
    const authorization = `Berth ${await f.token('GET', '/v1/deploys/1', '')}`;
    assert.equal((await f.request('GET', '/v1/deploys/1', { authorization })).status, 200);
    const err = await errorOf(await f.request('GET', '/v1/deploys/1', { authorization }));
    assert.equal(err.status, 409);
    assert.equal(err.code, 'replayed');
  });
});

describe('GET /v1/deploys/:id/events (SSE)', () => {
  it('replays stored events, streams live ones in order, then ends with the final record', async () => {
    const id = await accepted();
    f.store.addEvent(id, 'VERIFIED', 'signature ok');
    const res = await f.request('GET', `/v1/deploys/${id}/events`, { key: f.keyRead });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = res.text();
    // Live events arrive after the stream has started.
    setTimeout(() => {
      moveDeploy(f.store, id, 'PULLED');
      f.store.addEvent(id, 'PULLED', 'pulling', 40);
      f.store.addEvent(id, 'PULLED', 'pulled', 100);
      moveDeploy(f.store, id, 'DONE');
      f.store.addEvent(id, 'DONE', 'done');
    }, 20);
    const messages = parseSse(await text);
    const progress = messages.filter((m) => m.event === 'progress').map((m) => JSON.parse(m.data) as DeployEvent);
    assert.deepEqual(progress.map((e) => e.message), [progress[0]!.message, 'signature ok', 'pulling', 'pulled', 'done']);
    assert.deepEqual(progress.map((e) => String(e.id)), messages.filter((m) => m.event === 'progress').map((m) => m.id));
    const ids = progress.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    const last = messages.at(-1)!;
    assert.equal(last.event, 'end');
    assert.equal((JSON.parse(last.data) as DeployRecord).state, 'DONE');
  });

  it('resumes after Last-Event-ID, and ends at once for a finished deploy', async () => {
    const id = await accepted();
    const e1 = f.store.addEvent(id, 'VERIFIED', 'one');
    f.store.addEvent(id, 'PULLED', 'two');
    moveDeploy(f.store, id, 'FAILED', 'pull failed');
    moveDeploy(f.store, id, 'REVERTED');
    const res = await f.request('GET', `/v1/deploys/${id}/events`, { headers: { 'last-event-id': String(e1.id) } });
    const messages = parseSse(await res.text());
    assert.deepEqual(messages.map((m) => m.event), ['progress', 'end']);
    assert.equal((JSON.parse(messages[0]!.data) as DeployEvent).message, 'two');
    const end = JSON.parse(messages[1]!.data) as DeployRecord;
    assert.equal(end.state, 'REVERTED');
    assert.equal(end.error, 'pull failed');
  });

  it('bounds open streams per key (429), and a stream ends when its key is no longer trusted', async () => {
    const id = await accepted();
    const streams: Response[] = [];
    for (let i = 0; i < 32; i++) {
      const r = await f.request('GET', `/v1/deploys/${id}/events`, { key: f.keyRead });
      assert.equal(r.status, 200);
      streams.push(r);
    }
    const refused = await errorOf(await f.request('GET', `/v1/deploys/${id}/events`, { key: f.keyRead }));
    assert.equal(refused.status, 429);
    assert.match(refused.message, /too many open event streams/);
    // Another key still gets one: the bound is per key.
    const other = await f.request('GET', `/v1/deploys/${id}/events`);
    assert.equal(other.status, 200);
    await other.body?.cancel();

    const texts = streams.map((r) => r.text());
    f.store.keys.remove(f.keyRead.kid);
    f.store.addEvent(id, 'VERIFIED', 'wakes every stream');
    const ended = await Promise.all(texts);
    for (const t of ended) assert.ok(!t.includes('event: end'), 'cut off, not a normal end');
    f.trustAll();
    moveDeploy(f.store, id, 'DONE');
  });

  it('refuses a malformed Last-Event-ID and an unknown deploy', async () => {
    assert.equal((await errorOf(await f.request('GET', '/v1/deploys/1/events', { headers: { 'last-event-id': 'x' } }))).status, 400);
    assert.equal((await errorOf(await f.request('GET', '/v1/deploys/4242/events'))).status, 404);
  });
});

describe('GET /v1/services', () => {
  it('lists services with seq and current; detail adds containers and routes', async () => {
    const id = await accepted();
    f.store.setCurrent('demo', '', id);
    moveDeploy(f.store, id, 'DONE');
    f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test', 'www.demo.test'], target: '10.210.0.5:8080' });
    f.store.routes.set('other', '', { service: 'other', hosts: ['other.test'], target: '10.210.0.6:80' });
    f.containers = [
      { id: 'c1', name: 'demo-web-v2', running: true, state: 'running', exitCode: null, ip: '10.210.0.5', labels: { 'berth.role': 'web', 'berth.release': 'v2', 'berth.destination': '' }, createdAt: 0 },
      { id: 'c2', name: 'demo-web-staging-v1', running: false, state: 'exited', exitCode: 0, ip: null, labels: { 'berth.role': 'web', 'berth.release': 'v1', 'berth.destination': 'staging' }, createdAt: 0 },
    ];
    const seq = f.store.seq('demo', '');

    const list = (await (await f.request('GET', '/v1/services', { key: f.keyRead })).json()) as { services: Array<{ name: string; seq: number }> };
    assert.deepEqual(list.services.map((s) => [s.name, s.seq]), [['demo', seq]]);

    const res = await f.request('GET', '/v1/services/demo', { key: f.keyRead });
    assert.equal(res.status, 200);
    const { service } = (await res.json()) as { service: Record<string, unknown> };
    assert.equal(service.seq, seq);
    assert.equal((service.current as { deploy_id: number }).deploy_id, id);
    assert.deepEqual(service.containers, [{ id: 'c1', name: 'demo-web-v2', role: 'web', release: 'v2', state: 'running', status: 'running' }]);
    assert.deepEqual(service.routes, [
      { host: 'demo.test', target: '10.210.0.5:8080' },
      { host: 'www.demo.test', target: '10.210.0.5:8080' },
    ]);
  });

  it('detail names the newest deploy whatever its state: unfinished, then failed and reverted', async () => {
    const live = await accepted();
    f.store.setCurrent('demo', '', live);
    moveDeploy(f.store, live, 'DONE');
    const lastDeploy = async (): Promise<LastDeploy | null | undefined> => {
      const res = await f.request('GET', '/v1/services/demo', { key: f.keyRead });
      assert.equal(res.status, 200);
      return serviceDetailResponseSchema.parse(await res.json()).service.last_deploy;
    };
    assert.deepEqual(await lastDeploy(), { id: live, version: f.store.getDeploy(live)?.version, state: 'DONE', trigger: 'push', at: f.store.getDeploy(live)?.updated_at, error: null });

    const next = await accepted();
    const version = f.store.getDeploy(next)?.version;
    assert.notEqual(version, f.store.current('demo', '')?.version);
    assert.deepEqual(await lastDeploy(), { id: next, version, state: 'RECEIVED', trigger: 'push', at: f.store.getDeploy(next)?.updated_at, error: null });

    f.store.setState(next, 'FAILED', 'health check failed');
    assert.equal((await lastDeploy())?.state, 'FAILED');
    f.store.setState(next, 'REVERTED', 'health check failed');
    const reverted = await lastDeploy();
    assert.deepEqual([reverted?.id, reverted?.state, reverted?.error], [next, 'REVERTED', 'health check failed']);
    // The service still serves the deploy before it.
    assert.equal(f.store.current('demo', '')?.deploy_id, live);
  });

  it('never deployed → 404; bad name, destination or query parameter → 400', async () => {
    const err = await errorOf(await f.request('GET', '/v1/services/nothing'));
    assert.equal(err.status, 404);
    assert.match(err.message, /never been deployed/);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo?destination=staging'))).status, 404);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/Bad..Name'))).status, 400);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo?destination=%20x'))).status, 400);
    // A misspelt parameter must not quietly read the default destination.
    const typo = await errorOf(await f.request('GET', '/v1/services/demo?destinaton=staging'));
    assert.equal(typo.status, 400);
    assert.match(typo.message, /destinaton/);
  });
});

describe('failed-auth rate limit', () => {
  it('junk tokens naming a real key id from one address do not lock that key out elsewhere', async () => {
    const g = await ApiFixture.create({ authFailuresPerMinute: 20 });
    try {
      g.trustAll();
      const victim = g.keyA.kid;
      const junk = `Berth ${Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'berth-request+jwt', kid: victim })).toString('base64url')}.e30.AAAA`;
      for (let i = 0; i < 25; i++) {
        const r = await g.request('GET', '/v1/services', { authorization: junk, remoteAddress: '203.0.113.9' });
        assert.ok(r.status === 401 || r.status === 429);
      }
      assert.equal((await g.request('GET', '/v1/services', { authorization: junk, remoteAddress: '203.0.113.9' })).status, 429, 'the flooding address is blocked');
      assert.equal((await g.request('GET', '/v1/services', { remoteAddress: '198.51.100.7' })).status, 200, 'the key still works from elsewhere');
      assert.equal((await g.request('GET', '/v1/services', { remoteAddress: '203.0.113.9' })).status, 200, 'and from the flooding address itself');
    } finally {
      g.cleanup();
    }
  });

  it('after 20 failures a minute from one address, failures get 429 but a good token still passes', async () => {
    const g = await ApiFixture.create({ authFailuresPerMinute: 20 });
    try {
      g.trustAll();
      assert.equal((await g.request('GET', '/v1/services')).status, 200, 'positive control');
      for (let i = 0; i < 20; i++) {
        assert.equal((await g.request('GET', '/v1/services', { sign: { aud: 'Z'.repeat(43) } })).status, 401);
      }
      const err = await errorOf(await g.request('GET', '/v1/services', { sign: { aud: 'Z'.repeat(43) } }));
      assert.equal(err.status, 429);
      assert.equal(err.code, 'rate_limited');
      assert.equal((await g.request('GET', '/v1/services')).status, 200, 'a request signed by a trusted key is never refused by the limiter');
      const badBody = await errorOf(await g.request('PUT', '/v1/services/demo/lock', { body: '{"message":"x"}', sign: { body: '{"message":"y"}' } }));
      assert.equal(badBody.status, 429, 'a body that does not match bh is a failure, not an authenticated request');
      // Public endpoints are unaffected.
      assert.equal((await g.request('GET', '/v1/health', { authorization: null })).status, 200);
    } finally {
      g.cleanup();
    }
  });
});
