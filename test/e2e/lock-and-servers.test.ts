// One deploy per service at a time on a server; one push reaches every server.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { testEnv } from '../support/env.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

const apps: E2eApp[] = [];
after(async () => {
  for (const a of apps) await a.teardown();
});

test('two pushes of the same service at once: one deploys, the other is refused naming the holder', async () => {
  const e = await setupApp('locked');
  apps.push(e);
  const ok = await e.push('r1');
  assert.equal(ok.code, 0, explain(ok, e));

  // slowstart takes ~8 s to get healthy, so the two pushes overlap.
  e.configure('slowstart');
  const [a, b] = await Promise.all([e.push('ra'), new Promise((r) => setTimeout(r, 300)).then(() => e.push('rb'))]);
  const results = [a, b];
  const winners = results.filter((r) => r.code === 0);
  const losers = results.filter((r) => r.code !== 0);
  assert.equal(winners.length, 1, `exactly one push deploys:\n${explain(a, e)}\n${explain(b, e)}`);
  assert.equal(losers.length, 1);
  assert.match(losers[0]!.stderr, /lock|being deployed/i);
  const [won, lost] = a.code === 0 ? ['ra', 'rb'] : ['rb', 'ra'];
  assert.match(losers[0]!.stderr, new RegExp(`\\b${won}\\b|deploy \\d+`), 'the message names the holder');

  const running = (await e.containers()).filter((c) => c.state === 'running');
  assert.deepEqual(running.map((c) => c.labels['berth.release']), [won]);
  assert.equal((await e.containers()).filter((c) => c.labels['berth.release'] === lost).length, 0);
});

test('one push deploys to two servers, each with its own Docker engine; the summary shows both', async () => {
  const env = testEnv();
  const e = await setupApp('twoservers', { ips: ['127.0.0.2', '127.0.0.3'], engines: [env.engines[0]!, env.engines[1]!] });
  apps.push(e);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  for (const h of e.hosts) {
    assert.ok(r.stdout.includes(h.server) || r.stdout.includes(h.ip), `summary names ${h.server}:\n${r.stdout}`);
    assert.equal((await h.get(e.hostHeader)).body, 'v1\n');
    const running = (await e.containers(h.engine)).filter((c) => c.state === 'running');
    assert.equal(running.length, 1, `one container on ${h.engine.host}`);
  }
});
