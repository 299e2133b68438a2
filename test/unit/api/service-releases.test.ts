import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ContainerInfo } from '../../../agent/docker.js';
import type { ReleaseSummary, StoredRelease } from '../../../shared/api-types.js';
import { generateOperatorKey } from '../../../shared/keys.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';

let f: ApiFixture;
let sealed: string;
const deployIds: Record<string, number> = {};

function container(release: string, running: boolean, destination = ''): ContainerInfo {
  return {
    id: `id-${release}-${destination}`, name: `demo-web-${release}`, running, state: running ? 'running' : 'exited', exitCode: running ? null : 0,
    ip: null, labels: { 'berth.service': 'demo', 'berth.kind': 'app', 'berth.role': 'web', 'berth.release': release, 'berth.destination': destination },
    createdAt: 0, finishedAt: null,
  } as ContainerInfo;
}

before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
  sealed = await f.seal('s3cret', 'S');
  for (const [version, state] of [['v1', 'DONE'], ['v2', 'DONE'], ['v3', 'REVERTED']] as const) {
    const res = await f.postRelease(await f.manifest({ version, roles: { web: { env: { clear: { V: version }, secret: { S: sealed } } } } }));
    assert.equal(res.status, 202, await res.clone().text());
    const id = ((await res.json()) as { deploy: { id: number } }).deploy.id;
    deployIds[version] = id;
    moveDeploy(f.store, id, state);
    if (state === 'DONE') f.store.setCurrent('demo', '', id);
  }
  f.containers = [container('v2', true), container('v1', false), container('v1', true, 'staging')];
});
after(() => f.cleanup());

describe('GET /v1/services/:name/releases', () => {
  it('lists versions newest first with state, container presence and the current one, to a read key', async () => {
    const res = await f.request('GET', '/v1/services/demo/releases?destination=', { key: f.keyRead });
    assert.equal(res.status, 200);
    const { releases } = (await res.json()) as { releases: ReleaseSummary[] };
    assert.deepEqual(
      releases.map((r) => [r.version, r.last_state, r.container, r.current, r.key_id === f.keyA.kid, r.trigger]),
      [['v3', 'REVERTED', null, false, true, 'push'], ['v2', 'DONE', 'running', true, true, 'push'], ['v1', 'DONE', 'stopped', false, true, 'push']],
    );
  });

  it('answers 404 for a service never deployed, 400 for bad names, 401 without a token', async () => {
    assert.deepEqual(await errorOf(await f.request('GET', '/v1/services/other/releases')), { status: 404, code: 'not_found', message: 'service other has never been deployed on this agent' });
    assert.equal((await errorOf(await f.request('GET', '/v1/services/Bad!/releases'))).status, 400);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo/releases?destination=../x'))).status, 400);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo/releases', { authorization: null }))).status, 401);
  });

  it('answers 400 for unknown and repeated query parameters (a typo must not read the default destination)', async () => {
    for (const base of ['/v1/services/demo/releases', '/v1/services/demo/releases/v1']) {
      const typo = await errorOf(await f.request('GET', `${base}?destinaton=staging`));
      assert.deepEqual([typo.status, typo.code, typo.message], [400, 'invalid_input', 'unknown query parameter "destinaton"']);
      const repeated = await errorOf(await f.request('GET', `${base}?destination=&destination=staging`));
      assert.deepEqual([repeated.status, repeated.message], [400, 'query parameter "destination" is given 2 times']);
    }
  });
});

describe('GET /v1/services/:name/releases/:version', () => {
  it('returns the stored payload, sealed values still sealed, to a deploy key', async () => {
    const res = await f.request('GET', '/v1/services/demo/releases/v1?destination=');
    assert.equal(res.status, 200);
    const { release } = (await res.json()) as { release: StoredRelease & { payload: { version: string; roles: { web: { env: { secret: Record<string, string> } } } } } };
    assert.equal(release.version, 'v1');
    assert.equal(release.key_id, f.keyA.kid);
    assert.equal(release.payload.version, 'v1');
    assert.deepEqual(release.payload.roles.web.env.secret, { S: sealed });
    assert.equal(release.seq, f.store.getDeploy(deployIds.v1!)!.seq);
  });

  it('refuses a read key (403) and leaves the store as it was', async () => {
    const before = f.store.dump();
    const err = await errorOf(await f.request('GET', '/v1/services/demo/releases/v1', { key: f.keyRead }));
    assert.equal(err.status, 403);
    assert.equal(err.code, 'forbidden');
    assert.deepEqual(f.store.dump(), before);
  });

  it('refuses a replayed token (409) and a key the agent does not trust (401)', async () => {
    const authorization = `Berth ${await f.token('GET', '/v1/services/demo/releases/v1', '')}`;
    assert.equal((await f.request('GET', '/v1/services/demo/releases/v1', { authorization })).status, 200);
    const replay = await errorOf(await f.request('GET', '/v1/services/demo/releases/v1', { authorization }));
    assert.deepEqual([replay.status, replay.code], [409, 'replayed']);
    const stranger = await generateOperatorKey('mallory@evil');
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo/releases/v1', { key: stranger }))).status, 401);
  });

  it('answers 400 for a malformed version and 404 naming an unknown one', async () => {
    for (const bad of ['-v1', '.hidden', 'a%20b', 'x'.repeat(200)]) {
      const err = await errorOf(await f.request('GET', `/v1/services/demo/releases/${bad}`));
      assert.equal(err.status, 400, bad);
      assert.match(err.message, /release version .* is not valid/);
    }
    assert.deepEqual(await errorOf(await f.request('GET', '/v1/services/demo/releases/v9')), { status: 404, code: 'not_found', message: 'release v9 of demo is not on this agent' });
    assert.equal((await errorOf(await f.request('GET', '/v1/services/demo/releases/v1?destination=staging'))).status, 404);
    assert.equal((await errorOf(await f.request('GET', '/v1/services/Bad!/releases/v1'))).status, 400);
  });
});
