// The accessory endpoints through app.request, over a real store, FakeDocker
// and a temporary state dir: scopes (remove needs admin), body and name
// validation, 404 for an accessory the current release lacks, 409 for a boot
// of an existing one, audit rows, and the data kept or purged on remove.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { accessoriesResponseSchema, accessoryActionResponseSchema, accessoryRemovedResponseSchema } from '../../../shared/api-responses.js';
import { seal } from '../../../shared/sealing.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';
import { FakeDocker } from '../../support/fake-docker.js';

const REDIS = `127.0.0.1:5000/redis@sha256:${'c'.repeat(64)}`;
const BASE = '/v1/services/demo/accessories';
const q = '?destination=';
let f: ApiFixture;
const docker = new FakeDocker();
const stateDir = mkdtempSync(join(tmpdir(), 'berth-api-acc-'));

before(async () => {
  f = await ApiFixture.create({
    accessories: (identity) => ({
      docker,
      stateDir,
      network: 'berth',
      networkSubnet: '10.77.0.0/16',
      sealingPrivateJwk: identity.sealingPrivateJwk,
      policy: guardrailPolicy({ protect: [stateDir], accessoryRoot: join(stateDir, 'accessories') }),
    }),
  });
  f.trust(f.keyA, 'deploy');
  f.trust(f.keyB, 'admin');
  f.trust(f.keyRead, 'read');
  const password = await seal('hunter2', f.identity.sealingPublicJwk, { use: 'accessory-env', service: 'demo', destination: '', accessory: 'cache', name: 'REDIS_PASSWORD' });
  const accessories = { cache: { image: REDIS, env: { clear: {}, secret: { REDIS_PASSWORD: password } }, directories: [{ source: 'data', target: '/data' }] } };
  const res = await f.postRelease(await f.manifest({ accessories }));
  assert.equal(res.status, 202, await res.clone().text());
  const id = ((await res.json()) as { deploy: { id: number } }).deploy.id;
  moveDeploy(f.store, id, 'DONE');
  f.store.setCurrent('demo', '', id);
});
after(() => {
  f.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
});

async function call(method: string, path: string, key = f.keyA, body?: unknown) {
  const res = await f.request(method, path, { key, ...(method === 'POST' ? { body: JSON.stringify(body ?? {}) } : {}) });
  return { status: res.status, body: (await res.json()) as unknown };
}

const audit = () => f.store.audit.list({ service: 'demo', limit: 20 }).map((e) => `${e.action} ${JSON.stringify(e.detail)}`);

describe('accessory API', () => {
  it('lists the current release’s accessories to a read key', async () => {
    const { status, body } = await call('GET', `${BASE}${q}`, f.keyRead);
    assert.equal(status, 200);
    assert.deepEqual(accessoriesResponseSchema.parse(body).accessories, [
      { name: 'cache', image: REDIS, container: null, state: 'missing', port: null, host: 'demo-cache', changes: [], directories: [join(stateDir, 'accessories/demo/cache/dirs/data')] },
    ]);
  });

  it('refuses a read key, a body other than {}, a bad name, and answers 404 for an accessory not in the release', async () => {
    assert.equal((await call('POST', `${BASE}/cache/boot${q}`, f.keyRead)).status, 403);
    const bad = await errorOf(await f.request('POST', `${BASE}/cache/boot${q}`, { body: '{"force":true}' }));
    assert.equal(bad.status, 400);
    assert.match(bad.message, /request body/);
    assert.equal((await errorOf(await f.request('POST', `${BASE}/Bad!/boot${q}`, { body: '{}' }))).status, 400);
    const missing = await errorOf(await f.request('POST', `${BASE}/db/boot${q}`, { body: '{}' }));
    assert.equal(missing.status, 404);
    assert.match(missing.message, /accessory db is not in the current release of demo/);
    assert.equal((await errorOf(await f.request('GET', `/v1/services/other/accessories${q}`, { key: f.keyRead }))).status, 404);
    assert.equal(docker.containers.size, 0, 'nothing was created');
  });

  it('boots once (409 after), with its secret in the env and its directory made; the audit says who', async () => {
    const { status, body } = await call('POST', `${BASE}/cache/boot${q}`);
    assert.equal(status, 200, JSON.stringify(body));
    const r = accessoryActionResponseSchema.parse(body);
    assert.deepEqual(r.changed, ['created']);
    assert.equal(r.accessory.state, 'running');
    assert.ok(statSync(join(stateDir, 'accessories/demo/cache/dirs/data')).isDirectory());
    assert.ok(!JSON.stringify(body).includes('hunter2'));
    const again = await errorOf(await f.request('POST', `${BASE}/cache/boot${q}`, { body: '{}' }));
    assert.deepEqual([again.status, again.code], [409, 'accessory_exists']);
    assert.match(audit()[0] ?? '', /^accessory\.boot \{"accessory":"cache".*"changed":\["created"\]/);
  });

  it('stop, start and reboot say what they changed', async () => {
    assert.deepEqual(accessoryActionResponseSchema.parse((await call('POST', `${BASE}/cache/stop${q}`)).body).changed, ['stopped']);
    assert.deepEqual(accessoryActionResponseSchema.parse((await call('POST', `${BASE}/cache/stop${q}`)).body).changed, []);
    assert.deepEqual(accessoryActionResponseSchema.parse((await call('POST', `${BASE}/cache/start${q}`)).body).changed, ['started']);
    const rebooted = accessoryActionResponseSchema.parse((await call('POST', `${BASE}/cache/reboot${q}`)).body);
    assert.deepEqual([rebooted.changed, rebooted.accessory.state], [[], 'running']);
    assert.deepEqual(audit().slice(0, 4).map((a) => a.split(' ')[0]), ['accessory.reboot', 'accessory.start', 'accessory.stop', 'accessory.stop']);
  });

  it('remove needs admin; it keeps the data unless purge=1', async () => {
    assert.equal((await call('DELETE', `${BASE}/cache${q}`)).status, 403);
    const kept = await call('DELETE', `${BASE}/cache${q}`, f.keyB);
    assert.equal(kept.status, 200);
    assert.deepEqual(accessoryRemovedResponseSchema.parse(kept.body).removed, { container: 'demo-cache-' + f.identity.agentId.replace(/[^A-Za-z0-9]/g, '').slice(0, 6), purged: [] });
    assert.ok(existsSync(join(stateDir, 'accessories/demo/cache/dirs/data')));
    assert.equal(docker.containers.size, 0);
    const purged = await call('DELETE', `${BASE}/cache${q}&purge=1`, f.keyB);
    assert.deepEqual(accessoryRemovedResponseSchema.parse(purged.body).removed, { container: null, purged: [join(stateDir, 'accessories/demo/cache/dirs/data')] });
    assert.ok(!existsSync(join(stateDir, 'accessories/demo/cache')));
    assert.match(audit()[0] ?? '', /^accessory\.remove \{"accessory":"cache","purge":true/);
  });

  it('a release whose accessory asks for what the guardrails refuse is not accepted', async () => {
    const res = await f.postRelease(await f.manifest({ accessories: { cache: { image: REDIS, options: { privileged: true } } } }));
    const e = await errorOf(res);
    assert.deepEqual([e.status, e.code], [400, 'guardrail_refused']);
    assert.match(e.message, /^accessory cache: option privileged is refused/);
  });

  it('logs: a role and an accessory together are refused', async () => {
    const e = await errorOf(await f.request('GET', `/v1/services/demo/logs${q}&role=web&accessory=cache`, { key: f.keyRead }));
    assert.equal(e.status, 400);
    assert.match(e.message, /a role or an accessory, not both/);
  });
});
