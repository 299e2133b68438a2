// `deploy app stop|start` (Kamal's forms, run through Berth's `deploy stop|start`)
// against a real agent, Docker, registry and router: a stop takes the page off
// the router (its unrouted answer) and stops the container, survives an agent restart (the
// start-up reconcile neither starts nor routes it), start serves it again, an
// alias stops it too, and a push after a stop serves the new release.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

let e: E2eApp;
const ALIAS = 'aliases:\n  halt: app stop\n';

before(async () => {
  e = await setupApp('appstop');
  e.configure('v1', ALIAS);
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});
after(async () => {
  await e?.teardown();
});

const page = () => e.hosts[0]!.get(e.hostHeader);
// Berth's router answers a host it has no route for with 503 "There is no service for host X" (kamal-proxy: 404).
async function unrouted(): Promise<void> {
  const r = await page();
  assert.equal(r.status, 503);
  assert.match(r.body, /There is no service for host appstop\.test/);
}
const appContainers = async (release: string) => (await e.containers()).filter((c) => c.labels['berth.release'] === release && c.labels['berth.kind'] === 'app');

async function lastAudit(): Promise<{ action: string; detail: Record<string, unknown> }> {
  const r = await e.app.run(['audit', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  return (JSON.parse(r.stdout) as { entries: Array<{ action: string; detail: Record<string, unknown> }> }).entries[0]!;
}

test('deploy app stop: the router answers as for an unrouted host, the container is exited, audit app.stop, status shows it stopped', async () => {
  const r = await e.app.run(['app', 'stop']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, /web +stopped +stopped v1/);
  await unrouted();
  const [web] = await appContainers('v1');
  assert.equal(web?.state, 'exited');
  const audit = await lastAudit();
  assert.equal(audit.action, 'app.stop');
  assert.deepEqual(audit.detail.roles, ['web']);
  const status = await e.app.run(['status']);
  assert.match(status.stdout, /stopped: web/);
  const again = await e.app.run(['app', 'stop']);
  assert.equal(again.code, 0, explain(again, e));
  assert.match(again.stdout, /already stopped/);
});

test('an agent restart keeps it stopped and unrouted', async () => {
  const h = e.hosts[0]!;
  await h.killAgent();
  // The agent listens only once its start-up reconcile is done.
  await h.startAgent();
  await unrouted();
  assert.equal((await appContainers('v1'))[0]?.state, 'exited');
  const details = await e.app.run(['details']);
  assert.match(details.stdout, /app: +stopped \(web since /);
  assert.match(details.stdout, /no routes/);
});

test('deploy app start: the page is served again, the container runs; a second start is a no-op', async () => {
  const r = await e.app.run(['app', 'start']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, /web +running +started v1/);
  assert.deepEqual(await page(), { status: 200, body: 'v1\n' });
  assert.equal((await appContainers('v1'))[0]?.state, 'running');
  assert.equal((await lastAudit()).action, 'app.start');
  const again = await e.app.run(['start']);
  assert.equal(again.code, 0, explain(again, e));
  assert.match(again.stdout, /already running/);
});

test('an alias `halt: app stop` stops it; a push after the stop serves the new release', async () => {
  const halt = await e.app.run(['halt']);
  assert.equal(halt.code, 0, explain(halt, e));
  await unrouted();
  e.configure('v2', ALIAS);
  const r = await e.push('v2');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await page(), { status: 200, body: 'v2\n' });
  const status = await e.app.run(['status']);
  assert.doesNotMatch(status.stdout, /stopped: web/);
  const audit = await e.app.run(['audit', '--json']);
  const entries = (JSON.parse(audit.stdout) as { entries: Array<{ action: string; detail: Record<string, unknown> }> }).entries;
  const resumed = entries.find((x) => x.action === 'app.start');
  assert.equal(resumed?.detail.version, 'v2', 'the push ended the stop, audited as app.start by its deploy');
  assert.equal(typeof resumed?.detail.by_deploy, 'number');
});
