// The auto_deploy policy end to end, as far as it goes today: `deploy push`
// with `x-berth: auto_deploy:` against a real agent stores the policy in the
// signed release, its webhook secret still sealed (never the value); a later
// push without the policy stores a release without one. (An agent lacking
// auto_deploy.v1 is refused before anything is sent: test/unit/cli/push-auto-deploy.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, signedRequest, type OperatorKey } from '../support/signed-client.js';

const HOOK_KEY = 'e2e-webhook-hmac-key-7f3a';
const POLICY = `x-berth:
  auto_deploy:
    tag: "~1.4"
    sources:
      - dockerhub
      - github:GHCR_HOOK
    poll: 5m
`;

let e: E2eApp;
let key: OperatorKey;
let aud: string;

before(async () => {
  e = await setupApp('autopolicy');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `GHCR_HOOK=${HOOK_KEY}\n`);
});

after(async () => e?.teardown());

async function release(version: string): Promise<{ text: string; payload: Record<string, unknown> }> {
  const r = await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/services/${e.service}/releases/${version}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { text: JSON.stringify(r.body), payload: (r.body as { release: { payload: Record<string, unknown> } }).release.payload };
}

test('a pushed policy is stored in the signed release with its webhook secret sealed', async () => {
  e.configure('v1', POLICY);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');

  const { text, payload } = await release('r1');
  const policy = payload.auto_deploy as { tag: string; poll: number; sources: Array<{ name: string; secret?: string }> };
  assert.equal(policy.tag, '~1.4');
  assert.equal(policy.poll, 300);
  assert.deepEqual(policy.sources.map((s) => s.name), ['dockerhub', 'github']);
  assert.equal(policy.sources[0]?.secret, undefined);
  assert.match(policy.sources[1]?.secret ?? '', /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, 'sealed (JWE compact)');
  assert.ok(!text.includes(HOOK_KEY), 'the webhook secret never appears in clear');
  assert.ok(!r.stdout.includes(HOOK_KEY) && !r.stderr.includes(HOOK_KEY));

  const shown = await e.app.run(['config', '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.deepEqual(JSON.parse(shown.stdout).auto_deploy.sources, [{ name: 'dockerhub' }, { name: 'github', secret: 'GHCR_HOOK' }]);
  assert.ok(!shown.stdout.includes(HOOK_KEY));
});

test('a push without the policy stores a release without one', async () => {
  e.configure('v2');
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  assert.equal((await release('r2')).payload.auto_deploy, undefined);
  assert.ok((await release('r1')).payload.auto_deploy, 'the earlier release keeps its policy');
});
