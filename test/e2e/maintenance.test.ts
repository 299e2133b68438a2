// Maintenance mode end to end: the real CLI, agent, router and engine. The
// router answers 503 with the message while the health path still reaches the
// app; a deploy during maintenance keeps it; restarts keep it; `deploy live`
// serves the app again. A read-scoped key changes nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../agent/store/index.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { loadKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;

before(async () => {
  e = await setupApp('maint');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => e?.teardown());

const page = (path = '/') => e.hosts[0]!.get(e.hostHeader, path);

function auditActions(): Array<{ action: string; key_id: string; detail: Record<string, unknown> }> {
  const store = openStore(join(e.hosts[0]!.stateDir, 'berth.db'));
  try {
    return store.audit.list({ service: 'maint', destination: '', limit: 100 }).filter((a) => a.action.startsWith('maintenance.'));
  } finally {
    store.close();
  }
}

test('a read-scoped key cannot turn maintenance on: exit 1 naming the host, the app keeps serving', async () => {
  const readerKey = join(e.app.dir, '.reader-key.jwk');
  const keys = await e.app.run(['keys', 'new', '--comment', 'reader@test'], { keyFile: readerKey });
  assert.equal(keys.code, 0, keys.stderr);
  await e.hosts[0]!.trust(keys.stdout.trim(), 'read');
  const r = await e.app.run(['maintenance', '--message', 'nope'], { keyFile: readerKey });
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stdout, /failed +error: .*has scope read; this needs deploy/);
  assert.ok(r.stderr.includes(`1 of 1 servers did not go into maintenance: ${e.hosts[0]!.server}`), r.stderr);
  assert.deepEqual(await page(), { status: 200, body: 'v1\n' });
  assert.deepEqual(auditActions(), []);
});

test('deploy maintenance --message: GET / answers 503 with the message, GET /up still 200', async () => {
  const r = await e.app.run(['maintenance', '--message', 'Back at 5']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, new RegExp(`${e.hosts[0]!.server.replace(/\./g, '\\.')} +maintenance +Back at 5\\n`));
  // The CLI returns once the router serves it: no waiting needed.
  assert.deepEqual(await page(), { status: 503, body: 'Back at 5\n' });
  assert.deepEqual(await page('/anything/else?x=1'), { status: 503, body: 'Back at 5\n' });
  assert.deepEqual(await page('/up'), { status: 200, body: 'up\n' }, 'the health path reaches the app');
  const [on] = auditActions();
  assert.equal(on?.action, 'maintenance.on');
  assert.equal(on?.key_id, loadKey(e.app.keyFile).kid);
  assert.deepEqual(on?.detail, { message: 'Back at 5' });
});

test('deploy status --json shows the maintenance state', async () => {
  const r = await e.app.run(['status', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  const status = JSON.parse(r.stdout) as { servers: Array<{ service: { maintenance?: { message: string } } }> };
  assert.equal(status.servers[0]?.service.maintenance?.message, 'Back at 5');
});

test('a push of another version during maintenance still leaves 503', async () => {
  e.configure('v2');
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await page(), { status: 503, body: 'Back at 5\n' });
  assert.equal((await page('/up')).status, 200);
  const running = (await e.containers()).filter((c) => c.state === 'running');
  assert.deepEqual(running.map((c) => c.labels['berth.release']), ['r2'], 'the new release is the one behind the router');
});

test('maintenance survives a router restart (snapshot) and a router that lost its snapshot (the agent resends it)', async () => {
  const h = e.hosts[0]!;
  await h.killRouter();
  await h.startRouter();
  assert.deepEqual(await page(), { status: 503, body: 'Back at 5\n' }, 'served from the snapshot');

  await h.killAgent();
  await h.killRouter();
  rmSync(join(h.stateDir, 'router', 'routes.json'));
  await h.startRouter();
  const empty = await page();
  assert.equal(empty.status, 503);
  assert.match(empty.body, /There is no service for host/, 'an empty router has no service for the host');
  await h.startAgent();
  await waitFor('the agent to resend its routes', async () => (await page('/up')).status === 200, 30_000, { intervalMs: 100 });
  assert.deepEqual(await page(), { status: 503, body: 'Back at 5\n' }, 'the agent store keeps maintenance');
});

test('deploy live serves the app again (the release pushed during maintenance)', async () => {
  const r = await e.app.run(['live']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, / +live +serving\n/);
  assert.deepEqual(await page(), { status: 200, body: 'v2\n' });
  const [off] = auditActions();
  assert.equal(off?.action, 'maintenance.off');
  assert.equal(off?.detail.message, 'Back at 5');
  const again = await e.app.run(['live', '--json']);
  assert.equal(again.code, 0, explain(again, e));
  assert.deepEqual(JSON.parse(again.stdout), { host: e.hosts[0]!.server, maintenance: null });
  assert.equal(auditActions().length, 2, 'ending it twice records it once');
});
