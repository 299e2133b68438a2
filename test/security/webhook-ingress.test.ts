// The webhook prefix against a real agent and a real router process: a
// request to /.berth/webhooks/… on any host the router serves (the app's host,
// a host nobody routes, the app's host in maintenance) is answered by the
// agent, never by the app; the URL `deploy webhook url` prints reaches the
// service's webhook route; only POST; an oversized body is refused by the
// router; the TOKEN never shows in either log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

const HOOK_KEY = 'security-webhook-hmac-key-19c2';
const POLICY = `x-berth:
  auto_deploy:
    tag: main
    sources:
      - generic:HOOK_KEY
`;
const NO_HOOK = { error: { code: 'not_found', message: 'no webhook here' } };

let e: E2eApp;
let urlPath: string;

before(async () => {
  e = await setupApp('hookin');
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `HOOK_KEY=${HOOK_KEY}\n`);
  e.configure('v1', POLICY);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  const urls = await e.app.run(['webhook', 'url', '--json']);
  assert.equal(urls.code, 0, explain(urls, e));
  const parsed = JSON.parse(urls.stdout) as { servers: Array<{ webhooks: { urls: Array<{ source: string; url: string; agent_url: string }> } }> };
  const [generic] = parsed.servers[0]!.webhooks.urls;
  assert.equal(generic?.source, 'generic');
  assert.ok(generic.url.startsWith(`http://${e.hostHeader}/.berth/webhooks/generic/`), generic.url);
  assert.equal(generic.agent_url, `https://${e.hosts[0]!.server}${new URL(generic.url).pathname}`);
  urlPath = new URL(generic.url).pathname;
});
after(async () => e?.teardown());

function post(host: string, path: string, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; body: string }> {
  const h = e.hosts[0]!;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: h.ip, port: h.httpPort, path, method, headers: { host, 'content-type': 'application/json', ...headers }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function signed(body: string, secret: string): Record<string, string> {
  const at = String(Math.floor(Date.now() / 1000));
  return { 'x-berth-timestamp': at, 'x-berth-signature': `sha256=${createHmac('sha256', secret).update(`${at}.`).update(body).digest('hex')}` };
}

const PUSH = JSON.stringify({ repository: 'acme/web', tag: 'main' });

test('a TOKEN naming no service gets the agent’s 404 on the app’s host and on a host nobody routes; the app keeps serving', async () => {
  const wrong = urlPath.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
  for (const host of [e.hostHeader, 'nobody-routes-this.test']) {
    const answer = await post(host, wrong, PUSH, signed(PUSH, HOOK_KEY));
    assert.deepEqual([answer.status, JSON.parse(answer.body)], [404, NO_HOOK], `${host}\n${e.hosts[0]!.agentLog()}\n${e.hosts[0]!.router?.output()}`);
  }
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
});

test('the printed URL reaches the service’s webhook route through the router: a wrong HMAC is the agent’s refusal', async () => {
  const answer = await post(e.hostHeader, urlPath, PUSH, signed(PUSH, 'not-the-key'));
  const body = JSON.parse(answer.body) as { error: { code: string }; delivery_id?: string };
  assert.deepEqual([answer.status, body.error.code, typeof body.delivery_id], [401, 'unauthorized', 'string']);
  // The refusal is recorded under the id the sender was given, and nothing was deployed.
  const listed = await e.app.run(['webhook', 'deliveries', '--json']);
  assert.equal(listed.code, 0, explain(listed, e));
  const rows = (JSON.parse(listed.stdout) as { servers: Array<{ deliveries: Array<{ id: string; outcome: string; deploy_id: number | null }> }> }).servers[0]!.deliveries;
  const row = rows.find((d) => d.id === body.delivery_id);
  assert.deepEqual([row?.outcome, row?.deploy_id], ['refused', null], listed.stdout);
});

test('in maintenance the prefix still reaches the agent, the rest of the host gets the maintenance page', async () => {
  const r = await e.app.run(['maintenance', '--message', 'Back soon']);
  assert.equal(r.code, 0, explain(r, e));
  try {
    assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 503, body: 'Back soon\n' });
    const answer = await post(e.hostHeader, '/.berth/webhooks/generic/not-a-token', PUSH);
    assert.deepEqual([answer.status, JSON.parse(answer.body)], [404, NO_HOOK]);
  } finally {
    const live = await e.app.run(['live']);
    assert.equal(live.code, 0, explain(live, e));
  }
});

test('only POST, and a body over 64 KiB is refused by the router', async () => {
  for (const method of ['GET', 'PUT']) {
    const answer = await post(e.hostHeader, urlPath, '', {}, method);
    assert.equal(answer.status, 405, method);
  }
  const big = await post(e.hostHeader, urlPath, Buffer.alloc(64 * 1024 + 1, 'x'), signed(PUSH, HOOK_KEY));
  assert.equal(big.status, 413);
  assert.equal(JSON.parse(big.body).error.code, 'payload_too_large');
});

test('the TOKEN shows in neither the agent’s nor the router’s log', () => {
  const token = urlPath.split('/').pop()!;
  assert.doesNotMatch(e.hosts[0]!.agentLog(), new RegExp(token));
  assert.doesNotMatch(e.hosts[0]!.router?.output() ?? '', new RegExp(token));
});
