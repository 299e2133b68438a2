// The bake window against a real engine, registry and router: a release that
// turns unhealthy after going live is switched back by the agent itself, one
// that stays healthy is left alone, and one that was superseded is not judged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry, DeployRecord } from '../../../shared/api-types.js';
import { docker, dockerOk } from '../../support/docker-cli.js';
import { startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { waitFor } from '../../support/router-fixtures.js';

let f: EngineFixture;
let v1: DeployRecord;
before(async () => {
  f = await startEngineFixture('bake');
  v1 = await f.deploy(f.manifest('r1', await f.digestOf('v1'), { roles: roles() }));
  assert.equal(v1.state, 'DONE', v1.error ?? '');
});
after(async () => {
  await f?.engine.stopBakes();
  await f?.close();
});

function roles() {
  return { web: { proxy: { hosts: [f.host], app_port: 80, healthcheck: { path: '/cgi-bin/up', interval: 1, timeout: 2 } } } };
}

const containerOf = async (release: string) => (await f.containers()).find((c) => c.labels['berth.release'] === release);
const bakeFailures = (): AuditEntry[] => f.store.audit.list({ service: f.service, limit: 100 }).filter((e) => e.action === 'bake.failed');
const messages = (id: number) => f.store.events(id).map((e) => e.message);
const sick = async (release: string) => dockerOk(f.engineHost, ['exec', f.containerName(release), 'touch', '/tmp/sick']);

test('a release that turns unhealthy in its bake window is switched back to the retained previous container', async () => {
  const before = await containerOf('r1');
  assert.ok(before);
  const v2 = await f.deploy(f.manifest('r2', await f.digestOf('v2'), { roles: roles(), bake: 30 }));
  assert.equal(v2.state, 'DONE', v2.error ?? '');
  assert.equal((await f.get()).body, 'v2\n');
  assert.equal((await containerOf('r1'))?.state, 'exited');
  assert.match(messages(v2.id).join('\n'), /bake window started: watching r2 for 30s \(GET \/cgi-bin\/up on web, web container running\); switches back to r1 if it fails/);

  await sick('r2');
  await waitFor('bake.failed', () => bakeFailures().length === 1, 20_000);
  const [audit] = bakeFailures();
  assert.equal(audit!.key_id, 'agent');
  const revertId = audit!.detail.revert_deploy as number;
  assert.deepEqual(audit!.detail, {
    deploy: v2.id,
    version: 'r2',
    reason: 'web: health check GET /cgi-bin/up on port 80 failed 3 times in a row (last: HTTP 500)',
    reverted_to: 'r1',
    revert_deploy: revertId,
  });
  await waitFor('the revert to finish', () => f.store.getDeploy(revertId)?.state === 'DONE', 30_000);
  await waitFor('the last bake event', () => messages(v2.id).some((m) => m.startsWith('switched back')), 5_000);

  const revert = f.store.getDeploy(revertId)!;
  assert.deepEqual(
    { version: revert.version, trigger: revert.trigger, derived_from: revert.derived_from, key_id: revert.key_id, seq: revert.seq },
    { version: 'r1', trigger: 'bake-revert', derived_from: v2.id, key_id: 'agent', seq: v1.seq },
  );
  assert.equal((await f.get()).body, 'v1\n');
  assert.equal(f.store.current(f.service, '')?.deploy_id, revertId);
  const after = await containerOf('r1');
  assert.deepEqual([after?.id, after?.state], [before.id, 'running'], 'the retained r1 container was started again, not re-created');
  assert.equal((await containerOf('r2'))?.state, 'exited', 'the failed release is stopped and retained');
  assert.ok(messages(revertId).some((m) => /started retained container/.test(m)));
  assert.ok(messages(revertId).some((m) => /already present/.test(m)), 'no pull');
  assert.ok(messages(v2.id).some((m) => m === `bake failed: web: health check GET /cgi-bin/up on port 80 failed 3 times in a row (last: HTTP 500); reverting to r1 (deploy ${revertId})`));
  assert.ok(messages(v2.id).includes(`switched back to r1 (deploy ${revertId})`));
  assert.ok(!messages(revertId).some((m) => /^bake window (started|passed)/.test(m)), 'a revert is not baked itself');
});

test('a release that stays healthy through its window is left serving', async () => {
  const v3 = await f.deploy(f.manifest('r3', await f.digestOf('v3'), { roles: roles(), bake: 3 }));
  assert.equal(v3.state, 'DONE', v3.error ?? '');
  await waitFor('the window to close', () => messages(v3.id).some((m) => /^bake window passed/.test(m)), 15_000);
  assert.ok(messages(v3.id).includes('bake window passed: r3 stayed healthy for 3s'));
  assert.equal(bakeFailures().length, 1, 'no new bake.failed');
  assert.equal((await f.get()).body, 'v3\n');
  assert.equal(f.store.current(f.service, '')?.deploy_id, v3.id);
});

test('a release superseded during its window is not judged, even though its container stops', async () => {
  const v4 = await f.deploy(f.manifest('r4', await f.digestOf('v1'), { roles: roles(), bake: 60 }));
  assert.equal(v4.state, 'DONE', v4.error ?? '');
  const v5 = await f.deploy(f.manifest('r5', await f.digestOf('v2'), { roles: roles() }));
  assert.equal(v5.state, 'DONE', v5.error ?? '');
  await waitFor('the window to end', () => messages(v4.id).some((m) => /^bake window ended early/.test(m)), 10_000);
  assert.equal((await containerOf('r4'))?.state, 'exited');
  assert.equal(bakeFailures().length, 1, 'no bake.failed for r4');
  assert.equal((await f.get()).body, 'v2\n');
});

test('a window survives an agent restart, and a container that crashes in it fails the bake', async () => {
  const v6 = await f.deploy(f.manifest('r6', await f.digestOf('v3'), { roles: roles(), bake: 60 }));
  assert.equal(v6.state, 'DONE', v6.error ?? '');
  await waitFor('the window to open', () => messages(v6.id).some((m) => /^bake window started/.test(m)), 5_000);
  await f.engine.stopBakes();
  assert.ok(messages(v6.id).some((m) => /^bake window interrupted: the agent is stopping/.test(m)));

  const restarted = f.restartEngine();
  await restarted.reconcile();
  assert.match(messages(v6.id).at(-1) ?? '', /^bake window resumed after an agent restart \(\d+s of 60s left\) .*switches back to r5 if it fails$/);
  // PID 1 exits on TERM; Docker's restart policy brings it back, which is still a crash.
  await docker(f.engineHost, ['exec', f.containerName('r6'), 'kill', '1']);
  await waitFor('bake.failed', () => bakeFailures().length === 2, 20_000);
  const [audit] = bakeFailures();
  assert.match(String(audit!.detail.reason), new RegExp(`^web: container ${f.containerName('r6')} (exited and was restarted by Docker|stopped \\(exit code 0\\))$`));
  assert.equal(audit!.detail.reverted_to, 'r5');
  const revertId = audit!.detail.revert_deploy as number;
  await waitFor('the revert to finish', () => f.store.getDeploy(revertId)?.state === 'DONE', 30_000);
  assert.equal((await f.get()).body, 'v2\n');
  await restarted.stopBakes();
});

test('a deploy that only reaches DONE through the periodic retry still opens its bake window', async () => {
  let failDone = 2; // the engine's write and its immediate settle both fail; the periodic retry gets through
  const engine = f.restartEngine({}, (deps) => ({
    store: {
      ...deps.store,
      setState(id, s, error) {
        if (s === 'DONE' && failDone-- > 0) throw new Error('database is locked');
        return deps.store.setState(id, s, error);
      },
    },
  }));
  const d = f.accept(f.manifest('r7', await f.digestOf('v1'), { roles: roles(), bake: 60 }));
  await engine.run(d.id);
  assert.notEqual(f.store.getDeploy(d.id)!.state, 'DONE', 'not finished yet');
  assert.ok(!messages(d.id).some((m) => /^bake window started/.test(m)));

  await engine.retryStranded();
  assert.equal(f.store.getDeploy(d.id)!.state, 'DONE');
  await waitFor('the window to open', () => messages(d.id).some((m) => /^bake window started: watching r7 for 60s/.test(m)), 5_000);
  await engine.stopBakes();
});

test('a first release that fails its bake has nothing to go back to: recorded, left serving', async () => {
  const g = await startEngineFixture('bake1');
  try {
    const only = await g.deploy(g.manifest('r1', await g.digestOf('v1'), {
      roles: { web: { proxy: { hosts: [g.host], app_port: 80, healthcheck: { path: '/cgi-bin/up', interval: 1, timeout: 2 } } } },
      bake: 30,
    }));
    assert.equal(only.state, 'DONE', only.error ?? '');
    await dockerOk(g.engineHost, ['exec', g.containerName('r1'), 'touch', '/tmp/sick']);
    const failures = () => g.store.audit.list({ service: g.service, limit: 100 }).filter((e) => e.action === 'bake.failed');
    await waitFor('bake.failed', () => failures().length === 1, 20_000);
    assert.equal(failures()[0]!.detail.reverted_to, null);
    assert.equal(failures()[0]!.detail.note, 'nothing to revert to: no release was live before it');
    await waitFor('the last event', () => g.store.events(only.id).some((e) => /^bake failed/.test(e.message)), 5_000);
    assert.ok(g.store.events(only.id).some((e) => /^bake failed: web: health check .*; nothing to revert to: no release was live before it, so r1 stays live$/.test(e.message)));
    assert.equal(g.store.current(g.service, '')?.deploy_id, only.id);
    assert.deepEqual(g.store.dump().locks, []);
    assert.equal((await g.get()).body, 'v1\n');
  } finally {
    await g.engine.stopBakes();
    await g.close();
  }
});
