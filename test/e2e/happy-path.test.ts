// From `deploy keys new` to a page served by a container Berth deployed, then a
// zero-downtime switch under continuous load.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../support/env.js';
import { containersByLabel, imagePresent, removeImage, registryDigest } from '../support/docker-cli.js';
import { BerthHost, waitForFile } from '../support/berth-host.js';
import { AppDir, deployYml } from '../support/deploy-cli.js';
import { startLoad } from '../support/load.js';
import { retag, splitRef } from '../support/registry.js';

const env = testEnv();
const engine = env.engines[0]!;
const { registry, repo } = splitRef(env.images.v1);
const SERVICE = 'happy';
const HOST = 'happy.test';
let server: BerthHost;
let app: AppDir;

function config(tag: string): string {
  return deployYml({ service: SERVICE, image: `${registry}/${repo}:${tag}`, servers: [server.server], host: HOST });
}

before(async () => {
  server = new BerthHost({ ip: '127.0.0.2', engine });
  await server.start();
  app = new AppDir('happy');
});

after(async () => {
  await server.stop();
  for (const c of await containersByLabel(engine.host, `berth.service=${SERVICE}`)) {
    await removeContainer(c.name);
  }
  server.cleanup();
  app.cleanup();
});

async function removeContainer(name: string): Promise<void> {
  const { docker } = await import('../support/docker-cli.js');
  await docker(engine.host, ['rm', '-f', name]);
}

test('keys new writes a private key only its owner can read and prints the public line', async () => {
  const r = await app.run(['keys', 'new', '--comment', 'e2e@test']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.trim(), /^berth-ed25519 [A-Za-z0-9_-]{43} e2e@test$/);
  assert.equal(statSync(app.keyFile).mode & 0o777, 0o600);
  assert.doesNotMatch(r.stdout + r.stderr, /"d"/, 'the private key never goes to output');
  await server.trust(r.stdout.trim());
});

test('server add pins the agent identity in .berth/known_agents', async () => {
  app.writeConfig(config('moving'));
  const r = await app.run(['server', 'add', server.server]);
  assert.equal(r.code, 0, r.stderr);
  const pins = JSON.parse(readFileSync(join(app.dir, '.berth/known_agents'), 'utf8'));
  const pin = pins[server.server];
  assert.ok(pin, 'an entry keyed by host:port');
  assert.match(pin.certificate, /BEGIN CERTIFICATE/);
  assert.ok(r.stdout.includes(pin.agent_id), 'the agent id is shown to the operator');
});

test('push v1: the agent pulls the image by digest and the router serves it', async () => {
  await retag(registry, repo, 'v1', 'moving');
  const digest = await registryDigest(registry, repo, 'v1');
  const pinned = `${registry}/${repo}@${digest}`;
  await removeImage(engine.host, pinned);
  assert.equal(await imagePresent(engine.host, pinned), false, 'image absent before the push');

  const r = await app.run(['push', '--version', 'r1']);
  assert.equal(r.code, 0, `push failed:\n${r.stdout}\n${r.stderr}\n${server.agentLog()}`);
  assert.match(r.stdout, /DONE|done|deployed/i);

  assert.equal(await imagePresent(engine.host, pinned), true, 'agent pulled the image by digest');
  const page = await server.get(HOST);
  assert.equal(page.status, 200);
  assert.equal(page.body, 'v1\n');
});

test('push v2 under continuous load: zero failed requests, v1 stopped and retained', async (t) => {
  app.writeConfig(config('v2'));
  const load = startLoad({ ip: server.ip, port: server.httpPort, host: HOST, accept: ['v1', 'v2'], loops: 6 });
  await new Promise((r) => setTimeout(r, 500));
  const r = await app.run(['push', '--version', 'r2']);
  // Keep the load running past the swap acknowledgement and the drain.
  await new Promise((r) => setTimeout(r, 1000));
  const report = await load.stop();
  t.diagnostic(`${report.total} requests, ${report.failures.length} failed, answers ${JSON.stringify(report.seen)}`);
  assert.equal(r.code, 0, `push failed:\n${r.stdout}\n${r.stderr}`);
  assert.deepEqual(report.failures.slice(0, 5), [], `${report.failures.length} failed of ${report.total}`);
  assert.ok((report.seen.v1 ?? 0) > 0, `v1 answered during the run (${JSON.stringify(report.seen)})`);
  assert.ok((report.seen.v2 ?? 0) > 0, `v2 answered during the run (${JSON.stringify(report.seen)})`);

  assert.equal((await server.get(HOST)).body, 'v2\n');
  const containers = await containersByLabel(engine.host, `berth.service=${SERVICE}`);
  const v1 = containers.find((c) => c.labels['berth.release'] === 'r1');
  const v2 = containers.find((c) => c.labels['berth.release'] === 'r2');
  assert.ok(v1, 'v1 container retained');
  assert.notEqual(v1.state, 'running', 'v1 container stopped');
  assert.equal(v2?.state, 'running');
});

test('a tag moved after the CLI resolved it does not change what runs', async () => {
  await retag(registry, repo, 'v3', 'moving');
  app.writeConfig(config('moving'));
  await server.stop();
  await server.startRouter();
  await server.startAgent({ BERTH_TEST_PAUSE_AT: 'VERIFIED' });
  const push = app.run(['push', '--version', 'r3']);
  await waitForFile(server.pausedAt('VERIFIED'));
  // The manifest now carries v3's digest; move the tag to v1 before the agent pulls.
  await retag(registry, repo, 'v1', 'moving');
  rmSync(server.pausedAt('VERIFIED'));
  const r = await push;
  assert.equal(r.code, 0, `push failed:\n${r.stdout}\n${r.stderr}\n${server.agentLog()}`);
  assert.equal((await server.get(HOST)).body, 'v3\n');
});
