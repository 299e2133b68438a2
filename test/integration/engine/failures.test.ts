// Failures in the middle of a deploy still end it: the router never points at a
// removed container, and the service lock is always freed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DeployState } from '../../../shared/api-types.js';
import { UpstreamError } from '../../../shared/errors.js';
import type { EngineDeps } from '../../../agent/engine/types.js';
import { startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';

let f: EngineFixture;
before(async () => {
  f = await startEngineFixture('fail');
  const d = await f.deploy(f.manifest('r1', await f.digestOf('v1')));
  assert.equal(d.state, 'DONE', d.error ?? '');
});
after(async () => {
  await f?.close();
});

const releases = async () => (await f.containers()).map((c) => c.labels['berth.release']).sort();

/** A store whose setState(state) throws the first `times` times, like a database that is briefly locked. */
function flakyStore(state: DeployState, times: number) {
  let left = times;
  return (deps: EngineDeps): Partial<EngineDeps> => ({
    store: {
      ...deps.store,
      setState(id, s, error) {
        if (s === state && left-- > 0) throw new Error('database is locked');
        return deps.store.setState(id, s, error);
      },
    },
  });
}

test('a switch the router applied but never acknowledged: the old routes are served again before the new container goes', async () => {
  let lost = 0;
  const engine = f.restartEngine({}, (deps) => ({
    router: {
      ...deps.router,
      async putRoutes(set) {
        const answer = await deps.router.putRoutes(set);
        if (lost++ === 0) throw new UpstreamError('router did not answer PUT /routes within 10000 ms');
        return answer;
      },
    },
  }));
  const d = f.accept(f.manifest('r2', await f.digestOf('v2')));
  await engine.run(d.id);

  const after = f.store.getDeploy(d.id)!;
  assert.equal(after.state, 'REVERTED');
  assert.match(after.error ?? '', /router did not answer PUT \/routes/);
  assert.equal((await f.get()).body, 'v1\n', 'the router serves the old release, not a removed container');
  assert.equal(f.router.version(), f.store.routes.version());
  assert.deepEqual(await releases(), ['r1']);
});

test('a store failure while reverting still ends REVERTED with the reason, and frees the lock', async () => {
  // Fails in the revert and in the immediate retry: only the periodic retry gets through.
  const engine = f.restartEngine({}, flakyStore('REVERTED', 2));
  const d = f.accept(f.manifest('bad', await f.digestOf('unhealthy'), { deploy_timeout: 3 }));
  await engine.run(d.id);
  assert.equal(f.store.getDeploy(d.id)!.state, 'FAILED', 'not final yet');

  await engine.retryStranded();

  const after = f.store.getDeploy(d.id)!;
  assert.equal(after.state, 'REVERTED');
  assert.match(after.error ?? '', /^health check GET \/up on port 80 did not return 2xx within 3s/);
  assert.deepEqual(await releases(), ['r1']);
  assert.equal((await f.get()).body, 'v1\n');
});

test('a store failure after the switch still ends DONE, the old release stopped', async () => {
  const engine = f.restartEngine({}, flakyStore('DONE', 1));
  const d = f.accept(f.manifest('r3', await f.digestOf('v3')));
  await engine.run(d.id);

  assert.equal(f.store.getDeploy(d.id)!.state, 'DONE');
  assert.equal((await f.get()).body, 'v3\n');
  const states = Object.fromEntries((await f.containers()).map((c) => [c.labels['berth.release'], c.state]));
  assert.deepEqual(states, { r1: 'exited', r3: 'running' });
  // The lock is free: the next release is accepted.
  const next = await f.deploy(f.manifest('r4', await f.digestOf('v1')));
  assert.equal(next.state, 'DONE', next.error ?? '');
});
