// Accessories against a real engine: a deploy boots one (a busybox httpd
// serving /www) with a sealed file, a kept directory and a secret env var;
// the app reaches it by <service>-<accessory>; the next deploy leaves it; a
// spec change shows in `changes` and reboot applies it; data survives reboot
// and stop/start, remove keeps it, purge deletes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { seal } from '../../../shared/sealing.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import {
  accessoryStatus,
  findAccessory,
  rebootAccessory,
  removeAccessory,
  startAccessory,
  stopAccessory,
  bootAccessory,
  type AccessoryDeps,
} from '../../../agent/accessories/service.js';
import { resolveExecTarget } from '../../../agent/ops/exec.js';
import { logTargets } from '../../../agent/ops/logs.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { docker, dockerOk } from '../../support/docker-cli.js';
import { startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';

let f: EngineFixture;
let deps: AccessoryDeps;
let image = '';
let accessories: (mode: string) => Promise<Record<string, unknown>>;

before(async () => {
  f = await startEngineFixture('acc');
  image = await f.digestOf('v2');
  const where = { service: f.service, destination: '', accessory: 'cache' };
  accessories = async (mode) => ({
    cache: {
      image,
      env: { clear: { CACHE_MODE: mode }, secret: { CACHE_TOKEN: await seal('t0ken-s3cret', f.sealingPublicJwk, { use: 'accessory-env', ...where, name: 'CACHE_TOKEN' }) } },
      files: [{ target: '/www/conf.txt', content: await seal('maxmemory 1mb\n', f.sealingPublicJwk, { use: 'accessory-file', ...where, target: '/www/conf.txt' }), mode: '0640' }],
      directories: [{ source: 'data', target: '/www/data' }],
    },
  });
  deps = { docker: f.docker, stateDir: f.stateDir, network: 'berth', networkSubnet: '10.0.0.0/8' /* the deploys made the network already */, sealingPrivateJwk: f.sealingPrivateJwk, policy: guardrailPolicy({ protect: [f.stateDir], accessoryRoot: join(f.stateDir, 'accessories') }) };
});
after(async () => {
  await f?.close();
});

const inAccessory = async (name: string, script: string) => (await dockerOk(f.engineHost, ['exec', name, 'sh', '-c', script])).trim();

async function deployed(version: string, mode: string): Promise<ManifestPayload> {
  const m = f.manifest(version, await f.digestOf('v1'), { accessories: await accessories(mode) });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  return m;
}

test('a deploy boots the accessory; file, directory, secret and the name the app reaches it by', async () => {
  const m = await deployed('r1', 'a');
  const c = await findAccessory(f.docker, m, 'cache');
  assert.ok(c?.running, 'the accessory runs');
  assert.equal(c.name, `${f.service}-cache-gggggg`);
  assert.equal(await inAccessory(c.name, 'cat /www/conf.txt'), 'maxmemory 1mb');
  assert.equal(await inAccessory(c.name, 'stat -c %a /www/conf.txt'), '640');
  assert.equal(await inAccessory(c.name, 'echo "$CACHE_TOKEN"'), 't0ken-s3cret');
  await inAccessory(c.name, 'echo kept > /www/data/x.txt');
  const app = (await f.containers()).find((x) => x.labels['berth.kind'] === 'app' && x.state === 'running');
  assert.ok(app);
  const got = await dockerOk(f.engineHost, ['exec', app.name, 'wget', '-qO-', `http://${f.service}-cache/data/x.txt`]);
  assert.equal(got.trim(), 'kept', 'the app reaches it by <service>-<accessory>');
});

test('the next deploy leaves it; a spec change shows in changes and reboot applies it, data kept', async () => {
  const before = await findAccessory(f.docker, await deployed('r2', 'a'), 'cache');
  const m = await deployed('r3', 'b');
  const now = await findAccessory(f.docker, m, 'cache');
  assert.equal(now?.id, before?.id, 'not replaced by a deploy');
  const events = f.store.events(f.store.current(f.service, '')!.deploy_id).map((e) => e.message);
  assert.ok(events.includes('accessory cache: spec changed (env CACHE_MODE); deploy accessory reboot cache applies it'), events.join('\n'));
  assert.deepEqual((await accessoryStatus(deps, m, 'cache')).changes, ['env CACHE_MODE']);

  const r = await rebootAccessory(deps, m, 'cache');
  assert.deepEqual(r.changed, ['env CACHE_MODE']);
  assert.deepEqual(r.accessory.changes, []);
  assert.equal(r.accessory.state, 'running');
  const name = r.accessory.container!;
  assert.equal(await inAccessory(name, 'echo "$CACHE_MODE"; cat /www/data/x.txt'), 'b\nkept');

  await stopAccessory(deps, m, 'cache');
  assert.equal((await accessoryStatus(deps, m, 'cache')).state, 'exited');
  await startAccessory(deps, m, 'cache');
  assert.equal(await inAccessory(name, 'cat /www/data/x.txt'), 'kept');
  await assert.rejects(bootAccessory(deps, m, 'cache'), { code: 'accessory_exists' });

  // logs and exec target its running container with accessory=
  const running = await findAccessory(f.docker, m, 'cache');
  assert.deepEqual((await logTargets(f.docker, { service: f.service, destination: '', accessory: 'cache' })).map((c) => c.id), [running!.id]);
  const execDeps = { store: f.store, docker: f.docker, hostname: 'test-host-1', network: 'berth', sealingPrivateJwk: f.sealingPrivateJwk };
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['true'], accessory: 'cache', reuse: false });
  assert.equal(target.containerId, running!.id);
  await assert.rejects(resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['true'], accessory: 'nope', reuse: false }), { code: 'not_found' });
});

test("a reboot whose new spec this agent refuses (a host port it does not allow) leaves the running container alone", async () => {
  const m = f.store.getRelease(f.store.current(f.service, '')!.deploy_id)!.payload;
  const running = await findAccessory(f.docker, m, 'cache');
  assert.ok(running?.running);
  const cache = m.accessories!.cache!;
  const refused = { ...m, accessories: { cache: { ...cache, options: { publish: '127.0.0.1:18080:80' } } } };
  await assert.rejects(rebootAccessory(deps, refused, 'cache'), { code: 'guardrail_refused', message: /accessory cache: option publish 18080\/tcp is refused/ });
  const after = await findAccessory(f.docker, m, 'cache');
  assert.deepEqual([after?.id, after?.running], [running.id, true]);
});

test('remove keeps the directory, purge deletes it', async () => {
  const m = f.store.getRelease(f.store.current(f.service, '')!.deploy_id)!.payload;
  const dir = join(f.stateDir, 'accessories', f.service, 'cache', 'dirs', 'data');
  const removed = await removeAccessory(deps, m, 'cache', false);
  assert.deepEqual(removed, { container: `${f.service}-cache-gggggg`, purged: [] });
  assert.notEqual((await docker(f.engineHost, ['inspect', removed.container!])).code, 0, 'the container is gone');
  assert.ok(existsSync(join(dir, 'x.txt')));
  const purged = await removeAccessory(deps, m, 'cache', true);
  assert.deepEqual(purged.purged, [dir, join(f.stateDir, 'accessories', f.service, 'cache', 'files')]);
  assert.ok(!existsSync(join(f.stateDir, 'accessories', f.service, 'cache')));
});
