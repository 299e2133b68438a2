// POST /v1/releases runs the agent's guardrails before anything is committed:
// a refused release answers 400 guardrail_refused and leaves the store as it was.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiFixture, errorOf } from '../../support/agent-api.js';

let f: ApiFixture;
before(async () => {
  f = await ApiFixture.create();
  f.trustAll();
});
after(() => f.cleanup());

const web = (extra: Record<string, unknown>) => ({
  roles: { web: { proxy: { hosts: ['demo.test'], app_port: 8080 }, ...extra } },
});

async function refused(extra: Record<string, unknown>, message: RegExp, hint: RegExp): Promise<void> {
  const dump = f.store.dump();
  const res = await f.postRelease(await f.manifest(web(extra)));
  const body = (await res.clone().json()) as { error?: { hint?: string } };
  const err = await errorOf(res);
  assert.equal(err.status, 400, err.message);
  assert.equal(err.code, 'guardrail_refused', err.message);
  assert.match(err.message, message);
  assert.match(body.error?.hint ?? '', hint);
  assert.deepEqual(f.store.dump(), dump, 'nothing committed');
  assert.deepEqual(f.runs, [], 'the engine never heard of it');
}

test('privileged is refused naming the role and option', async () => {
  await refused({ options: { privileged: true } }, /^role web: option privileged is refused by this agent's guardrails/, /no agent setting allows it/);
});

test('a Docker socket bind mount is refused, naming the agent option that gives containers the host', async () => {
  await refused({ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }, /^role web: volume "\/var\/run\/docker.sock:\/var\/run\/docker.sock" is refused/, /--allow-host-control-mounts.*control of this host/);
});

test('an added capability is refused naming the agent flag that would allow it', async () => {
  await refused({ options: { 'cap-add': 'SYS_ADMIN' } }, /cap-add SYS_ADMIN is refused/, /berth-agent run --allow-cap SYS_ADMIN/);
});

test('a value docker run would refuse fails at acceptance, not mid-deploy', async () => {
  const dump = f.store.dump();
  const res = await f.postRelease(await f.manifest(web({ options: { memory: 'lots' } })));
  const err = await errorOf(res);
  assert.equal(err.status, 400);
  assert.match(err.message, /role web: options\.memory must be a size/);
  assert.deepEqual(f.store.dump(), dump);
});

test('positive control: volumes, logging and options within the guardrails are accepted', async () => {
  const res = await f.postRelease(
    await f.manifest(web({ volumes: ['/data/app:/app/storage', 'cache:/cache'], logging: { driver: 'json-file', options: { 'max-size': '1m' } }, options: { memory: '256m', cpus: 0.5 } })),
  );
  assert.equal(res.status, 202, JSON.stringify(await res.clone().json()));
  await new Promise((r) => setImmediate(r));
  assert.equal(f.runs.length, 1);
});
