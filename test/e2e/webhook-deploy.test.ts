// A registry push becomes a deploy with nobody running a command: the tracked
// tag moves in the real registry, a signed `generic` delivery reaches the
// agent through the router on the app's host, the agent looks the tag up in
// the registry itself and serves the new image as a release derived from the
// signed one. A delivery for an untracked tag, and one whose payload names a
// digest the registry does not have, change nothing but their own row. A
// digest that fails its health check is reverted like any push, and the next
// delivery of that digest does not deploy it again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { retag, splitRef } from '../support/registry.js';
import { waitFor } from '../support/wait.js';
import { webhookDeliveries } from '../support/webhook-deliveries.js';
import type { WebhookDelivery } from '../../shared/api-types.js';

const HOOK_KEY = 'e2e-webhook-hmac-key-7d41';
const env = testEnv();
const { registry, repo } = splitRef(env.images.v1);
const TAG = `hook-${randomBytes(4).toString('hex')}`;

let e: E2eApp;
let urlPath: string;


before(async () => {
  await retag(registry, repo, 'v1', TAG);
  e = await setupApp('hookdep');
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `HOOK_KEY=${HOOK_KEY}\n`);
  e.configure(TAG, `x-berth:\n  auto_deploy:\n    tag: ${TAG}\n    sources:\n      - generic:HOOK_KEY\n`);
  const r = await e.push('signed-1');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
  const urls = await e.app.run(['webhook', 'url', '--json']);
  assert.equal(urls.code, 0, explain(urls, e));
  const parsed = JSON.parse(urls.stdout) as { servers: Array<{ webhooks: { urls: Array<{ source: string; url: string }> } }> };
  urlPath = new URL(parsed.servers[0]!.webhooks.urls[0]!.url).pathname;
});
after(async () => e?.teardown());

function deliver(payload: object): Promise<{ status: number; body: { delivery_id?: string; error?: { code: string } } }> {
  const body = JSON.stringify(payload);
  const at = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', HOOK_KEY).update(`${at}.`).update(body).digest('hex')}`;
  const h = e.hosts[0]!;
  return new Promise((resolve, reject) => {
    const headers = { host: e.hostHeader, 'content-type': 'application/json', 'x-berth-timestamp': at, 'x-berth-signature': signature };
    const req = http.request({ host: h.ip, port: h.httpPort, path: urlPath, method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}


async function settled(id: string): Promise<WebhookDelivery> {
  return waitFor(`delivery ${id} to settle`, async () => {
    const row = (await webhookDeliveries(e)).find((d) => d.id === id);
    return row && row.outcome !== 'queued' ? row : undefined;
  }, 60_000, { intervalMs: 250, explain: () => e.hosts[0]!.agentLog() });
}

test('a delivery for an untracked tag is recorded as ignored and nothing is deployed', async () => {
  const answer = await deliver({ repository: `${registry}/${repo}`, tag: `${TAG}-other` });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  const row = await settled(answer.body.delivery_id!);
  assert.deepEqual([row.outcome, row.deploy_id], ['ignored', null]);
  assert.match(row.reason, /untracked tag/);
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
});

test('the tag moves in the registry: a delivery through the router deploys the registry’s digest, recorded, audited and listed', async () => {
  const digest = await retag(registry, repo, 'v2', TAG);
  // The payload's digest is not the registry's: the agent must look the tag up itself.
  const answer = await deliver({ repository: `${registry}/${repo}`, tag: TAG, digest: `sha256:${'0'.repeat(64)}` });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  const row = await settled(answer.body.delivery_id!);
  assert.deepEqual([row.outcome, row.digest, typeof row.deploy_id], ['deployed', digest, 'number'], JSON.stringify(row));
  await waitFor('the router to serve v2', async () => (await e.hosts[0]!.get(e.hostHeader)).body === 'v2\n' || undefined, 60_000, {
    intervalMs: 100,
    explain: () => e.hosts[0]!.agentLog(),
  });

  const version = `${TAG}-${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  const releases = await e.app.run(['releases', '--json']);
  assert.equal(releases.code, 0, explain(releases, e));
  assert.match(releases.stdout, new RegExp(`"version":"${version}"`));
  const audit = await e.app.run(['audit', '--json']);
  assert.equal(audit.code, 0, explain(audit, e));
  const line = audit.stdout.split('\n').find((l) => l.includes('"webhook.deploy"'));
  assert.ok(line?.includes(answer.body.delivery_id!), audit.stdout);

  // The same digest again (a CI step sends the digest it pushed): already serving, no second deploy.
  const again = await deliver({ repository: `${registry}/${repo}`, tag: TAG, digest });
  const second = await settled(again.body.delivery_id!);
  assert.deepEqual([second.outcome, second.deploy_id], ['already_serving', null]);
});

interface ReleaseRow {
  version: string;
  last_state: string | null;
  current: boolean;
}

async function releaseRows(): Promise<ReleaseRow[]> {
  const r = await e.app.run(['releases', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  return (JSON.parse(r.stdout) as { servers: Array<{ releases: ReleaseRow[] }> }).servers[0]!.releases;
}

test('a tag moved to an image that never gets healthy is reverted, v2 keeps serving, and its digest is not deployed again', async () => {
  const digest = await retag(registry, repo, 'unhealthy', TAG);
  const version = `${TAG}-${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
  const answer = await deliver({ repository: `${registry}/${repo}`, tag: TAG, digest });
  assert.equal(answer.status, 202, JSON.stringify(answer.body));
  const row = await settled(answer.body.delivery_id!);
  assert.deepEqual([row.outcome, row.digest], ['deployed', digest], JSON.stringify(row));
  const failed = await waitFor(`${version} to be reverted`, async () => {
    const found = (await releaseRows()).find((r) => r.version === version);
    return found?.last_state === 'REVERTED' ? found : undefined;
  }, 90_000, { intervalMs: 500, explain: () => e.hosts[0]!.agentLog() });
  assert.equal(failed.current, false);
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v2\n' });

  // Sent again (the revert took the deploy timeout, so this is a new signed request, not a replay).
  const again = await deliver({ repository: `${registry}/${repo}`, tag: TAG, digest });
  const second = await settled(again.body.delivery_id!);
  assert.deepEqual([second.outcome, second.deploy_id], ['ignored', null], JSON.stringify(second));
  assert.match(second.reason, /failed before/);
  assert.equal((await releaseRows()).filter((r) => r.version === version).length, 1);
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v2\n' });
});
