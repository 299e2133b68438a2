// Three servers, each an agent with its own Docker engine: the rollout order
// (primary first, boot.limit batches), a failing primary that stops the
// rollout, and the summary and exit codes a person sees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testEnv } from '../support/env.js';
import { docker, dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import type { BerthHost } from '../support/berth-host.js';
import { agentId, containerNameOn, loadKey, signedRequest } from '../support/signed-client.js';

const env = testEnv();
let e: E2eApp;

before(async () => {
  assert.ok(env.engines.length >= 3, 'the harness provides three engines');
  e = await setupApp('fanout', { ips: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], engines: [env.engines[0]!, env.engines[1]!, env.engines[2]!] });
});
after(async () => {
  await e?.teardown();
});

/** The deploy as the agent recorded it: created_at is when it received the release, updated_at when it ended. */
async function recordedDeploy(h: BerthHost, id: number): Promise<{ state: string; created_at: string; updated_at: string; version: string }> {
  const r = await signedRequest(h, loadKey(e.app.keyFile), await agentId(h), 'GET', `/v1/deploys/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.deploy;
}

async function serviceSeq(h: BerthHost): Promise<number> {
  const r = await signedRequest(h, loadKey(e.app.keyFile), await agentId(h), 'GET', `/v1/services/${e.service}?destination=`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.service.seq;
}

test('boot.limit 1: the primary first, then one host at a time, each finished before the next one received its release', async () => {
  e.configure('v1', 'boot:\n  limit: 1\n  wait: 1\n');
  const r = await e.push('r1', ['--json']);
  assert.equal(r.code, 0, explain(r, e));
  const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const results = records.filter((x) => x.type === 'result');
  assert.deepEqual(results.map((x) => [x.host, x.ok, x.state, x.roles]), e.hosts.map((h) => [h.server, true, 'DONE', ['web']]), 'in rollout order, the primary first');
  assert.equal(records.filter((x) => x.type === 'note').length, 2, 'a boot.wait pause before each of the two batches');

  const deploys = await Promise.all(e.hosts.map((h, i) => recordedDeploy(h, results[i]!.deploy_id as number)));
  for (const d of deploys) assert.deepEqual([d.state, d.version], ['DONE', 'r1']);
  for (let i = 1; i < deploys.length; i++) {
    const previousDone = Date.parse(deploys[i - 1]!.updated_at);
    const received = Date.parse(deploys[i]!.created_at);
    assert.ok(previousDone <= received, `${e.hosts[i - 1]!.server} finished (${deploys[i - 1]!.updated_at}) before ${e.hosts[i]!.server} received its release (${deploys[i]!.created_at})`);
  }
  for (const h of e.hosts) assert.equal((await h.get(e.hostHeader)).body, 'v1\n');
});

test('plain output when not a terminal: progress lines, the batch pauses, and a summary table with role, release, result and time', async () => {
  e.configure('v2', 'boot:\n  limit: 1\n  wait: 1\n');
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  const [h1, h2, h3] = e.hosts.map((h) => h.server);
  assert.ok(r.stdout.includes(`waiting 1s before the next batch (${h2})`), r.stdout);
  assert.ok(r.stdout.includes(`waiting 1s before the next batch (${h3})`), r.stdout);
  assert.match(r.stdout, /HOST +ROLE +RELEASE +RESULT +TIME\n/);
  for (const h of [h1, h2, h3]) assert.match(r.stdout, new RegExp(`\\n${h!.replace(/\./g, '\\.')} +web +r2 +deployed +\\d+\\.\\ds\\n`));
  assert.ok(r.stdout.indexOf(`${h1}  DONE`) < r.stdout.indexOf(`${h2}  RECEIVED`), 'the primary is done before the second host starts');
  for (const h of e.hosts) assert.equal((await h.get(e.hostHeader)).body, 'v2\n');
});

test('a failing primary stops the rollout: the other two are never contacted, still serve the old release, and are reported skipped', async () => {
  const [primary, second, third] = e.hosts as [BerthHost, BerthHost, BerthHost];
  // A container Berth did not make holds the name release r3 needs on the primary only: its deploy fails there.
  const blocker = await containerNameOn(primary, e.service, 'web', 'r3');
  const image = (await e.containers(primary.engine)).find((c) => c.state === 'running')!.image;
  await dockerOk(primary.engine.host, ['create', '--name', blocker, image]);
  try {
    const others = [second, third];
    const seqBefore = await Promise.all(others.map(serviceSeq));
    const containersBefore = await Promise.all(others.map(async (h) => (await e.containers(h.engine)).map((c) => `${c.name}:${c.state}`).sort()));
    e.configure('v3');
    const r = await e.push('r3');
    assert.equal(r.code, 1, explain(r, e));
    assert.match(r.stderr, new RegExp(`error: deploy failed on ${primary.server.replace(/\./g, '\\.')}: .*container name ${blocker} is taken`));
    assert.ok(r.stderr.includes(`2 server(s) skipped, left as they were: ${second.server}, ${third.server}`), r.stderr);
    assert.match(r.stdout, new RegExp(`\\n${primary.server.replace(/\./g, '\\.')} +web +r3 +failed: .*container name ${blocker} is taken`));
    for (const h of others) assert.match(r.stdout, new RegExp(`\\n${h.server.replace(/\./g, '\\.')} +web +r3 +skipped +-\\n`));

    assert.deepEqual(await Promise.all(others.map(serviceSeq)), seqBefore, 'no release reached the other agents');
    assert.deepEqual(await Promise.all(others.map(async (h) => (await e.containers(h.engine)).map((c) => `${c.name}:${c.state}`).sort())), containersBefore, 'no container was made or stopped');
    for (const h of e.hosts) assert.equal((await h.get(e.hostHeader)).body, 'v2\n', `${h.server} still serves r2`);

    const json = await e.push('r3b', ['--json']);
    assert.equal(json.code, 0, `a new version name does not clash with the blocker: ${json.stdout}`);
    for (const h of e.hosts) assert.equal((await h.get(e.hostHeader)).body, 'v3\n');
  } finally {
    await docker(primary.engine.host, ['rm', '-f', blocker]);
  }
});
