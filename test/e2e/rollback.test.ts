// deploy rollback under continuous load: back to the retained container of the
// previous release with no pull and no failed request, forward again by name,
// and a release the server does not have refused with nothing changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { startLoad } from '../support/load.js';
import { agentId, containerNameOn, loadKey, signedRequest } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;

before(async () => {
  e = await setupApp('rollback');
});
after(async () => {
  await e?.teardown();
});

type Row = Record<string, unknown>;
const ndjson = (text: string): Row[] => text.trim().split('\n').map((l) => JSON.parse(l) as Row);
const containerStates = async () => (await e.containers()).map((c) => `${c.name}:${c.state}`).sort();

test('push v1, push v2, then rollback under load: zero failed requests, v1 served again from its retained container, no pull', async (t) => {
  e.configure('v1');
  const r1 = await e.push('v1');
  assert.equal(r1.code, 0, explain(r1, e));
  e.configure('v2');
  const r2 = await e.push('v2');
  assert.equal(r2.code, 0, explain(r2, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');

  const h = e.hosts[0]!;
  const load = startLoad({ ip: h.ip, port: h.httpPort, host: e.hostHeader, accept: ['v1', 'v2'], loops: 6 });
  const rb = await e.app.run(['rollback', '--json']);
  const report = await load.stop();
  assert.equal(rb.code, 0, explain(rb, e));
  assert.deepEqual(report.failures, [], `failed requests during the rollback (of ${report.total})`);
  assert.ok((report.seen.v1 ?? 0) > 0 && (report.seen.v2 ?? 0) > 0, `load saw both releases: ${JSON.stringify(report.seen)}`);
  t.diagnostic(`load during the rollback: ${report.total} requests, ${report.failures.length} failed, answers ${JSON.stringify(report.seen)}`);
  assert.equal((await h.get(e.hostHeader)).body, 'v1\n');

  const records = ndjson(rb.stdout);
  const messages = records.filter((x) => x.type === 'progress').map((x) => String(x.message));
  assert.ok(messages.some((m) => /^image .* already present$/.test(m)), `no pull:\n${messages.join('\n')}`);
  assert.ok(!messages.some((m) => /^pulling/.test(m)), 'no pull progress');
  const v1Name = await containerNameOn(e.hosts[0]!, e.service, 'web', 'v1');
  assert.ok(messages.some((m) => m.startsWith(`web: started retained container ${v1Name}`)), messages.join('\n'));
  assert.deepEqual(records.filter((x) => x.type === 'result').map((x) => [x.release, x.ok, x.state]), [['v1', true, 'DONE']]);
  assert.equal((await e.containers()).filter((c) => c.labels['berth.release'] === 'v1').length, 1, 'the retained container, not a new one');

  const releases = await e.app.run(['releases']);
  assert.equal(releases.code, 0, explain(releases, e));
  assert.match(releases.stdout, /^HOST +RELEASE +IMAGE +WHEN +KEY +STATUS\n/);
  assert.match(releases.stdout, /\n\S+ +v1 +web@sha256:[0-9a-f]{12} +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\S{12} +current\n/);
  assert.match(releases.stdout, /\n\S+ +v2 +web@sha256:[0-9a-f]{12} .* retained\n/);
  const json = JSON.parse((await e.app.run(['releases', '--json'])).stdout);
  const list = json.servers[0].releases as Row[];
  assert.deepEqual(list.map((x) => [x.version, x.current, x.trigger, x.container]), [['v1', true, 'rollback', 'running'], ['v2', false, 'push', 'stopped']]);
});

test('rollback RELEASE goes forward again by name', async () => {
  const r = await e.app.run(['rollback', 'v2']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stderr, /rolling back rollback to v2 on 1 server/);
  assert.match(r.stdout, /\n\S+ +web +v2 +rolled back +\d+\.\ds\n/);
  assert.ok(r.stdout.includes(`started retained container ${await containerNameOn(e.hosts[0]!, e.service, 'web', 'v2')}`), r.stdout);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');
});

test('rollback to a release the server never had exits 1 naming it, and changes nothing', async () => {
  const before = await containerStates();
  const releasesBefore = (await e.app.run(['releases', '--json'])).stdout;
  const r = await e.app.run(['rollback', 'v9']);
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stderr, /error: rollback failed on \S+: release v9 of rollback is not on this server/);
  assert.deepEqual(await containerStates(), before);
  assert.equal((await e.app.run(['releases', '--json'])).stdout, releasesBefore, 'no release was recorded');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');
});

test('rollback --lock-wait waits for a running push to finish, then rolls back', async () => {
  const h = e.hosts[0]!;
  const key = loadKey(e.app.keyFile);
  const aud = await agentId(h);
  const seq = async () => (await signedRequest(h, key, aud, 'GET', '/v1/services/rollback?destination=')).body.service.seq as number;
  const before = await seq();
  // slowstart listens only after 8 s, so its deploy holds the service lock meanwhile.
  e.configure('slowstart');
  const push = e.push('slow');
  await waitFor('the push to be accepted', async () => (await seq()) !== before, 10_000, { intervalMs: 50 });

  const r = await e.app.run(['rollback', 'v2', '--lock-wait', '60']);
  const pushed = await push;
  assert.equal(pushed.code, 0, explain(pushed, e));
  assert.equal(r.code, 0, explain(r, e));
  const waits = r.stdout.split('\n').filter((l) => l.includes('waiting for the lock'));
  assert.equal(waits.length, 1, r.stdout);
  assert.match(waits[0]!, /LOCKED +waiting for the lock on \S+: rollback is locked by deploy \d+ \(version slow/);
  assert.equal((await h.get(e.hostHeader)).body, 'v2\n');
});
