// The real CNCF registry tells Berth about pushes: a private registry whose
// `notifications:` endpoint is the service's distribution webhook URL on the
// router. A `docker push` under the tracked tag deploys it under load with no
// failed request; pulls and pushes under other tags change nothing. Then a
// flood of signed generic deliveries for one tag move costs at most two
// deploys, bounded memory, and leaves the agent free to deploy another service.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { AppDir, deployYml } from '../support/deploy-cli.js';
import { docker, dockerOk, removeContainersByLabel } from '../support/docker-cli.js';
import { testEnv } from '../support/env.js';
import { startLoad } from '../support/load.js';
import { NotifyRegistry, copyImage } from '../support/notify-registry.js';
import { splitRef } from '../support/registry.js';
import { waitFor } from '../support/wait.js';
import { webhookDeliveries } from '../support/webhook-deliveries.js';
import type { WebhookDelivery } from '../../shared/api-types.js';

const REG_HOOK = `reg-${randomBytes(12).toString('hex')}`;
const GEN_HOOK = `gen-${randomBytes(12).toString('hex')}`;
const env = testEnv();
const { registry: shared, repo } = splitRef(env.images.v1);
const engine = env.engines[0]!.host;
const reg = new NotifyRegistry();
const pushedRefs: string[] = [];

let e: E2eApp;
let genericPath: string;
let other: AppDir | undefined;


const ref = (tag: string) => `${reg.address}/${repo}:${tag}`;
const why = () => `--- agent log\n${e.hosts[0]!.agentLog().slice(-4000)}\n--- registry log\n${reg.log()}`;

before(async () => {
  await reg.start();
  await copyImage(shared, repo, 'v1', reg.address, repo, 'main');
  await copyImage(shared, repo, 'v2', reg.address, repo, 'v2-build');
  e = await setupApp('regnote');
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `REG_HOOK=${REG_HOOK}\nGEN_HOOK=${GEN_HOOK}\n`);
  const h = e.hosts[0]!;
  e.app.writeConfig(
    deployYml({ service: e.service, image: ref('main'), servers: [h.server], host: e.hostHeader }) +
      'x-berth:\n  auto_deploy:\n    tag: main\n    sources:\n      - distribution:REG_HOOK\n      - generic:GEN_HOOK\n',
  );
  const r = await e.push('signed-1');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await h.get(e.hostHeader), { status: 200, body: 'v1\n' });
  const urls = await e.app.run(['webhook', 'url', '--json']);
  assert.equal(urls.code, 0, explain(urls, e));
  const listed = (JSON.parse(urls.stdout) as { servers: Array<{ webhooks: { urls: Array<{ source: string; url: string }> } }> }).servers[0]!.webhooks.urls;
  const path = (source: string) => new URL(listed.find((u) => u.source === source)!.url).pathname;
  genericPath = path('generic');
  // What an operator does with `deploy webhook url`: the router answers the
  // webhook prefix on any Host, so its own address will do.
  await reg.start({ url: `http://${h.ip}:${h.httpPort}${path('distribution')}`, authorization: REG_HOOK });
});

after(async () => {
  await e?.teardown();
  if (other) {
    await removeContainersByLabel(engine, 'berth.service=regnote-other');
    other.cleanup();
  }
  for (const r of pushedRefs) await docker(engine, ['rmi', '-f', r]);
  await reg.cleanup();
});


function row(what: string, match: (d: WebhookDelivery) => boolean): Promise<WebhookDelivery> {
  return waitFor(what, async () => (await webhookDeliveries(e, 200)).find((d) => match(d) && d.outcome !== 'queued'), 60_000, { intervalMs: 250, explain: why });
}

/** A real `docker push` of what `from` holds, under `tag`. */
async function dockerPush(from: string, tag: string): Promise<void> {
  pushedRefs.push(ref(from), ref(tag));
  await dockerOk(engine, ['pull', '-q', ref(from)]);
  await dockerOk(engine, ['tag', ref(from), ref(tag)]);
  await dockerOk(engine, ['push', '-q', ref(tag)]);
}

test('the registry’s pull events reach the agent and deploy nothing', async () => {
  const pulled = await fetch(`http://${reg.address}/v2/${repo}/manifests/main`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(pulled.status, 200);
  await pulled.body?.cancel();
  const seen = await row('a pull event', (d) => d.source === 'distribution' && /\bpull\b/.test(d.reason));
  assert.deepEqual([seen.outcome, seen.deploy_id], ['ignored', null]);
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
});

test('a docker push under another tag is recorded as ignored and nothing is deployed', async () => {
  await dockerPush('v2-build', 'other');
  const seen = await row('the push of :other', (d) => d.source === 'distribution' && d.tag === 'other');
  assert.deepEqual([seen.outcome, seen.deploy_id], ['ignored', null], JSON.stringify(seen));
  assert.match(seen.reason, /untracked tag other/);
  assert.deepEqual(await e.hosts[0]!.get(e.hostHeader), { status: 200, body: 'v1\n' });
});

test('a docker push under the tracked tag deploys it under load with no failed request, recorded and audited', async () => {
  const h = e.hosts[0]!;
  const load = startLoad({ ip: h.ip, port: h.httpPort, host: e.hostHeader, accept: ['v1', 'v2'] });
  try {
    await dockerPush('v2-build', 'main');
    await waitFor('the router to serve v2', async () => (await h.get(e.hostHeader)).body === 'v2\n' || undefined, 60_000, { intervalMs: 100, explain: why });
    await waitFor('the load to see v2', () => (load.report.seen.v2 ?? 0) > 0 || undefined, 30_000);
  } finally {
    const report = await load.stop();
    assert.deepEqual(report.failures, [], `${report.failures.length} of ${report.total} requests failed`);
    assert.ok((report.seen.v1 ?? 0) > 0 && (report.seen.v2 ?? 0) > 0, JSON.stringify(report.seen));
  }
  const deployed = await row('the deployed delivery', (d) => d.source === 'distribution' && d.tag === 'main' && d.outcome === 'deployed');
  assert.equal(typeof deployed.deploy_id, 'number');
  const audit = await e.app.run(['audit', '--json']);
  assert.equal(audit.code, 0, explain(audit, e));
  const line = audit.stdout.split('\n').find((l) => l.includes('"webhook.deploy"') && l.includes(deployed.id));
  assert.ok(line, audit.stdout);
});

function deliverGeneric(body: string): Promise<number> {
  const at = String(Math.floor(Date.now() / 1000));
  const signature = `sha256=${createHmac('sha256', GEN_HOOK).update(`${at}.`).update(body).digest('hex')}`;
  const h = e.hosts[0]!;
  return new Promise((resolve) => {
    const headers = { host: e.hostHeader, 'content-type': 'application/json', 'x-berth-timestamp': at, 'x-berth-signature': signature };
    const req = http.request({ host: h.ip, port: h.httpPort, path: genericPath, method: 'POST', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

function rssMiB(): number {
  const status = readFileSync(`/proc/${e.hosts[0]!.agent!.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

const deploys = (rows: WebhookDelivery[]) => new Set(rows.flatMap((d) => (d.outcome === 'deployed' && d.deploy_id !== null ? [d.deploy_id] : [])));

test('a flood of 1,000 signed deliveries for one tag move: at most two deploys, bounded memory, other services still deploy', async (t) => {
  const h = e.hosts[0]!;
  // A second service on the same agent, ready to push during the flood.
  other = new AppDir('regnote-other');
  const keys = await other.run(['keys', 'new']);
  assert.equal(keys.code, 0, keys.stderr);
  await h.trust(keys.stdout.trim());
  other.writeConfig(deployYml({ service: 'regnote-other', image: env.images.v1, servers: [h.server], host: 'regnote-other.test' }));
  assert.equal((await other.run(['server', 'add', h.server])).code, 0);

  const deploysBefore = deploys(await webhookDeliveries(e, 200)).size;
  const rssBefore = rssMiB();

  // The tag moves once (back to v1's build); the registry notifies as well.
  await copyImage(shared, repo, 'v1', reg.address, repo, 'main');
  const statuses: number[] = [];
  let next = 0;
  const sender = async () => {
    while (next < 1000) {
      // Each body distinct (the payload's digest is read and dropped), so no
      // delivery is a replay of another: each accepted one is queued for real.
      const digest = `sha256:${(next++).toString(16).padStart(64, '0')}`;
      statuses.push(await deliverGeneric(JSON.stringify({ repository: `${reg.address}/${repo}`, tag: 'main', digest })));
    }
  };
  const otherPush = other.run(['push', '--version', 'during-flood']);
  await Promise.all(Array.from({ length: 50 }, sender));
  const pushed = await otherPush;
  assert.equal(pushed.code, 0, `${pushed.stderr}\n${why()}`);
  assert.deepEqual(await h.get('regnote-other.test'), { status: 200, body: 'v1\n' });

  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  assert.deepEqual(Object.keys(counts).sort(), ['202', '429'], JSON.stringify(counts));
  assert.equal(statuses.length, 1000);
  assert.ok(counts[202]! <= 60, JSON.stringify(counts));

  await waitFor('the router to serve v1 again', async () => (await h.get(e.hostHeader)).body === 'v1\n' || undefined, 60_000, { intervalMs: 100, explain: why });
  const rows = await waitFor('every generic delivery to settle', async () => {
    const all = await webhookDeliveries(e, 200);
    return all.some((d) => d.outcome === 'queued') ? undefined : all;
  }, 60_000, { intervalMs: 250, explain: why });
  const limited = rows.filter((d) => d.source === 'generic' && d.outcome === 'refused' && /in a minute/.test(d.reason));
  assert.equal(limited.length, 1, 'only the first 429 of the window is recorded');

  // Every webhook deploy is a delivery row naming it (the row the audit's webhook.deploy names).
  const made = deploys(rows).size - deploysBefore;
  assert.ok(made >= 1 && made <= 2, `${made} webhook deploys for one tag move\n${JSON.stringify(rows.filter((d) => d.outcome === 'deployed'))}`);

  const rssAfter = rssMiB();
  t.diagnostic(`answers ${JSON.stringify(counts)}; ${made} deploy(s); agent RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`);
  assert.ok(rssAfter < rssBefore + 100, `agent RSS grew from ${rssBefore.toFixed(0)} to ${rssAfter.toFixed(0)} MiB`);
});
