// known_agents works like SSH's known_hosts: a server whose identity changed is
// refused until the operator explicitly replaces the pin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

let e: E2eApp;

before(async () => {
  e = await setupApp('pinning');
});

after(async () => e?.teardown());

function pins(): Record<string, { agent_id: string; tls_fingerprint: string }> {
  return JSON.parse(readFileSync(join(e.app.dir, '.berth/known_agents'), 'utf8'));
}

test('a re-initialised agent is refused until the pin is replaced', async () => {
  const h = e.hosts[0]!;
  const before = pins()[h.server]!;

  // Positive control: the pinned agent answers.
  const ok = await e.app.run(['status']);
  assert.equal(ok.code, 0, explain(ok, e));

  await h.stop();
  await h.init(['--force']);
  await h.trust(e.keyLine);
  await h.startRouter();
  await h.startAgent();

  const again = await e.app.run(['server', 'add', h.server]);
  assert.notEqual(again.code, 0, 'a changed identity is not accepted silently');
  assert.match(again.stderr, /changed|mismatch|does not match/i);
  assert.ok(again.stderr.includes(before.agent_id), 'names the pinned agent id');
  assert.match(again.stderr, /--replace/);
  assert.deepEqual(pins()[h.server], before, 'the pin is unchanged');

  const push = await e.push('r1');
  assert.notEqual(push.code, 0);
  assert.match(push.stderr, /identity|pin|fingerprint/i);
  assert.equal((await e.containers()).length, 0, 'nothing was deployed to the unverified server');

  const replaced = await e.app.run(['server', 'add', h.server, '--replace']);
  assert.equal(replaced.code, 0, explain(replaced, e));
  assert.notEqual(pins()[h.server]!.agent_id, before.agent_id);
  const push2 = await e.push('r1');
  assert.equal(push2.code, 0, explain(push2, e));
  assert.equal((await h.get(e.hostHeader)).body, 'v1\n');
});
