// Asset bridging (Kamal's asset_path) against the real agent, router, Docker
// and registry: three builds, each with its own fingerprinted file
// /www/assets/a-<build>.css. While a deploy waits between health and switch
// (the old container still serves), the old container already answers for the
// new file; after the switch the new container answers for the old file too;
// the asset directories of a release whose containers retention removed are gone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { testEnv } from '../support/env.js';
import { docker, dockerOk } from '../support/docker-cli.js';
import { deployYml } from '../support/deploy-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { splitRef } from '../support/registry.js';
import { waitForFile } from '../support/berth-host.js';

let e: E2eApp;
const builds = ['a1', 'a2', 'a3'];
const refs: Record<string, string> = {};

before(async () => {
  const env = testEnv();
  const { registry, repo } = splitRef(env.images.v1);
  const engine = env.engines[0]!.host;
  // Images of our own, FROM the shared v1 test image, pushed under another repository.
  for (const b of builds) {
    const ref = `${registry}/${repo}-assets:${b}`;
    const dockerfile = `FROM ${env.images.v1}\nRUN mkdir -p /www/assets && echo "${b} css" > /www/assets/a-${b}.css\n`;
    const built = await docker(engine, ['build', '-q', '-t', ref, '-'], { input: dockerfile });
    assert.equal(built.code, 0, built.stderr);
    await dockerOk(engine, ['push', ref]);
    await docker(engine, ['rmi', ref]);
    refs[b] = ref;
  }
  e = await setupApp('assets', { agentEnv: { BERTH_TEST_PAUSE_AT: 'HEALTHY' } });
});

after(async () => e?.teardown());

function configure(build: string): void {
  const h = e.hosts[0]!;
  e.app.writeConfig(deployYml({ service: e.service, image: refs[build]!, servers: [h.server], host: e.hostHeader }) + 'asset_path: /www/assets\nretain_containers: 1\n');
}

/** Pushes `build`; `whilePaused` runs while the deploy waits between HEALTHY and the switch. */
async function deploy(build: string, whilePaused: () => Promise<void> = async () => undefined): Promise<void> {
  configure(build);
  const h = e.hosts[0]!;
  const push = e.push(build);
  await waitForFile(h.pausedAt('HEALTHY'), 60_000);
  try {
    await whilePaused();
  } finally {
    rmSync(h.pausedAt('HEALTHY'));
  }
  const r = await push;
  assert.equal(r.code, 0, explain(r, e));
}

const css = (path: string) => e.hosts[0]!.get(e.hostHeader, path);
const assetDirs = (version: string) => {
  const base = join(e.hosts[0]!.stateDir, 'assets', e.service, 'web');
  return [join(base, 'extracted', version), join(base, 'volumes', version)];
};

test('old and new containers serve both releases\' assets across a switch; pruned releases lose their asset directories', async () => {
  await deploy('a1');
  assert.deepEqual(await css('/assets/a-a1.css'), { status: 200, body: 'a1 css\n' });

  await deploy('a2', async () => {
    // Not switched yet: the a1 container answers, and already has a2's file.
    assert.equal((await css('/')).body, 'v1\n');
    assert.deepEqual(await css('/assets/a-a2.css'), { status: 200, body: 'a2 css\n' });
    assert.deepEqual(await css('/assets/a-a1.css'), { status: 200, body: 'a1 css\n' });
  });
  const running = (await e.containers()).filter((c) => c.state === 'running');
  assert.deepEqual(running.map((c) => c.labels['berth.release']), ['a2']);
  // The a2 container answers for a1's file, left from before the switch.
  assert.deepEqual(await css('/assets/a-a1.css'), { status: 200, body: 'a1 css\n' });
  assert.deepEqual(await css('/assets/a-a2.css'), { status: 200, body: 'a2 css\n' });
  // Mounted read-only: the app cannot write where the agent copies the next release's files.
  const write = await docker(e.hosts[0]!.engine.host, ['exec', running[0]!.name, 'sh', '-c', 'echo x > /www/assets/planted']);
  assert.notEqual(write.code, 0, 'the asset volume is read-only');
  assert.match(write.stderr, /Read-only file system/);

  await deploy('a3');
  assert.deepEqual(await css('/assets/a-a2.css'), { status: 200, body: 'a2 css\n' });
  assert.deepEqual(await css('/assets/a-a3.css'), { status: 200, body: 'a3 css\n' });
  // retain_containers 1: a1's container is gone, and its asset directories with it; a2's stay with its retained container.
  const releases = (await e.containers()).map((c) => c.labels['berth.release']).sort();
  assert.deepEqual(releases, ['a2', 'a3']);
  for (const dir of assetDirs('a1')) assert.equal(existsSync(dir), false, `${dir} removed`);
  for (const dir of [...assetDirs('a2'), ...assetDirs('a3')]) assert.equal(existsSync(dir), true, `${dir} kept`);
});

test('a rollback to the retained release serves the newer release\'s assets too', async () => {
  const h = e.hosts[0]!;
  const push = e.app.run(['rollback', 'a2']);
  await waitForFile(h.pausedAt('HEALTHY'), 60_000);
  rmSync(h.pausedAt('HEALTHY'));
  const r = await push;
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await css('/assets/a-a3.css'), { status: 200, body: 'a3 css\n' });
  assert.deepEqual(await css('/assets/a-a2.css'), { status: 200, body: 'a2 css\n' });
});
