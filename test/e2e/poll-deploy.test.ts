// A registry that sends no webhooks: the signed policy says `poll`, the agent
// asks the real registry where the tag points on its own, and when the tag
// moves it serves the new image as a release derived from the signed one. A
// quiet tag writes no delivery rows. BERTH_TEST_POLL_SCALE shrinks the
// policy's 60 s (its minimum) to one second so the test does not wait minutes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { retag, splitRef } from '../support/registry.js';
import { waitFor } from '../support/wait.js';
import { webhookDeliveries } from '../support/webhook-deliveries.js';

const env = testEnv();
const { registry, repo } = splitRef(env.images.v1);
const TAG = `poll-${randomBytes(4).toString('hex')}`;
const SCALE = 1 / 60;

let e: E2eApp;


before(async () => {
  await retag(registry, repo, 'v1', TAG);
  e = await setupApp('polldep', { agentEnv: { BERTH_TEST_POLL_SCALE: String(SCALE) } });
  e.configure(TAG, `x-berth:\n  auto_deploy:\n    tag: ${TAG}\n    poll: 60\n`);
  const r = await e.push('signed-1');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
});
after(async () => e?.teardown());


test('the tag moves in the registry: the poller finds it and the new image is served, one delivery row, audited', async () => {
  const url = await e.app.run(['webhook', 'url', '--json']);
  assert.equal(url.code, 0, explain(url, e));
  assert.match(url.stdout, /"poll":60/);

  const digest = await retag(registry, repo, 'v2', TAG);
  // About one interval (one second here); the bound only keeps a broken poller from hanging the suite.
  await waitFor('the router to serve v2', async () => (await e.hosts[0]!.get(e.hostHeader)).body === 'v2\n' || undefined, 60_000, {
    intervalMs: 100,
    explain: () => e.hosts[0]!.agentLog(),
  });
  const rows = await waitFor('the poll delivery to settle', async () => {
    const all = await webhookDeliveries(e);
    return all.every((d) => d.outcome !== 'queued') ? all : undefined;
  }, 30_000, { intervalMs: 250, explain: () => e.hosts[0]!.agentLog() });
  // Seconds of quiet polls before the move wrote nothing: the only row is the move.
  assert.deepEqual(rows.map((d) => [d.source, d.outcome, d.tag, d.digest]), [['poll', 'deployed', TAG, digest]], JSON.stringify(rows));

  const version = `${TAG}-${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  const releases = await e.app.run(['releases', '--json']);
  assert.equal(releases.code, 0, explain(releases, e));
  assert.match(releases.stdout, new RegExp(`"version":"${version}"`));
  const audit = await e.app.run(['audit', '--json']);
  assert.equal(audit.code, 0, explain(audit, e));
  const line = audit.stdout.split('\n').find((l) => l.includes('"webhook.deploy"'));
  assert.ok(line?.includes(rows[0]!.id), audit.stdout);
});
