// The deploy's accessories phase through FakeDocker: missing accessories boot
// before the app's new containers; a running one is never replaced (a spec
// difference is an event); a stopped one stays stopped; a failed boot fails
// the deploy while the old release keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpstreamError } from '../../../shared/errors.js';
import { startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';

const REDIS = `registry.test/redis@sha256:${'c'.repeat(64)}`;
const CACHE = 'app-cache-gggggg';

const withCache = (env: Record<string, string> = { MAXMEMORY: '1mb' }) => ({
  accessories: { cache: { image: REDIS, port: '127.0.0.1:6379:6379', env: { clear: env, secret: {} }, directories: [{ source: 'data', target: '/data' }] } },
});

async function engine(t: { after: (fn: () => Promise<void>) => void }): Promise<{ u: UnitEngine; stateDir: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-engine-acc-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  return { u: await startUnitEngine({ stateDir }), stateDir };
}

const messages = (u: UnitEngine, id: number) => u.store.events(id).map((e) => e.message);

test('a missing accessory boots before the app launches; the next deploy leaves it and reports a spec change', async (t) => {
  const { u, stateDir } = await engine(t);
  const d1 = await u.deploy(u.manifest('v1', withCache()));
  assert.equal(d1.state, 'DONE', d1.error ?? '');
  const cache = u.docker.byName(CACHE);
  assert.ok(cache?.running, 'the accessory runs');
  assert.equal(cache.labels['berth.kind'], 'accessory');
  const order = u.docker.actions;
  assert.ok(order.indexOf(`pull ${REDIS}`) < order.indexOf(`start ${CACHE}`));
  assert.ok(order.indexOf(`start ${CACHE}`) < order.indexOf(`create ${u.containerName('v1')}`), order.join('\n'));
  assert.ok(messages(u, d1.id).includes(`accessory cache: booted ${CACHE} (reachable as app-cache)`), messages(u, d1.id).join('\n'));
  assert.ok((await stat(join(stateDir, 'accessories/app/cache/dirs/data'))).isDirectory());

  const d2 = await u.deploy(u.manifest('v2', withCache({ MAXMEMORY: '2mb' })));
  assert.equal(d2.state, 'DONE', d2.error ?? '');
  assert.equal(u.docker.byName(CACHE)?.id, cache.id, 'never replaced by a deploy');
  assert.ok(messages(u, d2.id).includes('accessory cache: spec changed (env MAXMEMORY); deploy accessory reboot cache applies it'), messages(u, d2.id).join('\n'));
  assert.ok(!messages(u, d2.id).join('\n').includes('2mb'), 'no value in events');
});

test('a stopped accessory is left stopped, and the event says so', async (t) => {
  const { u } = await engine(t);
  assert.equal((await u.deploy(u.manifest('v1', withCache()))).state, 'DONE');
  const cache = u.docker.byName(CACHE)!;
  await u.docker.stop(cache.id);
  const d2 = await u.deploy(u.manifest('v2', withCache()));
  assert.equal(d2.state, 'DONE', d2.error ?? '');
  assert.equal(u.docker.byName(CACHE)?.running, false);
  assert.ok(messages(u, d2.id).includes(`accessory cache: ${CACHE} is exited; left so (deploy accessory start cache starts it)`), messages(u, d2.id).join('\n'));
});

test('a failed boot fails the deploy naming the accessory; the old release keeps serving', async (t) => {
  const { u } = await engine(t);
  assert.equal((await u.deploy(u.manifest('v1'))).state, 'DONE');
  const served = u.routedTo();
  u.docker.failOn('start', new UpstreamError('docker start failed: port is already allocated'), (name) => name === CACHE);
  const d2 = await u.deploy(u.manifest('v2', withCache()));
  assert.equal(d2.state, 'REVERTED');
  assert.match(d2.error ?? '', /^accessory cache could not be booted: docker start failed: port is already allocated$/);
  assert.equal(u.routedTo(), served);
  assert.equal(u.docker.byName(u.containerName('v2')), undefined, 'the app never launched');
  assert.equal(u.docker.byName(CACHE), undefined, 'no half-booted accessory left to pass for a booted one');
  assert.equal(u.store.current('app', '')?.version, 'v1');
});
