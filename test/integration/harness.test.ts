// The provisioned fixtures themselves: two distinct engines whose containers
// are reachable from the host, a registry serving the test images by digest.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testEnv, splitImageRef, type TestEngine } from '../support/env.js';
import {
  containersByLabel, docker, dockerOk, imagePresent, registryDigest, removeContainersByLabel, removeImage,
} from '../support/docker-cli.js';

const env = testEnv();
const LABEL = 'berth.test=harness';
const [engine1, engine2] = env.engines as [TestEngine, TestEngine];
const createdNetworks: Array<{ engine: TestEngine; name: string }> = [];
const pulled: Array<{ engine: TestEngine; ref: string }> = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** GET until the container's httpd answers (it starts in milliseconds, but not zero). */
async function getWhenUp(url: string): Promise<{ status: number; body: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      lastError = err;
      await sleep(100);
    }
  }
  throw new Error(`${url} never answered: ${String(lastError)}`);
}

/** The agent's own `berth` network when it exists, else one created (and removed) here. */
async function ensureBerthNetwork(engine: TestEngine): Promise<void> {
  if ((await docker(engine.host, ['network', 'inspect', 'berth'])).code === 0) return;
  await dockerOk(engine.host, ['network', 'create', '--driver', 'bridge', '--subnet', engine.subnet, 'berth']);
  createdNetworks.push({ engine, name: 'berth' });
}

async function pull(engine: TestEngine, ref: string): Promise<void> {
  await dockerOk(engine.host, ['pull', '-q', ref]);
  pulled.push({ engine, ref });
}

before(async () => {
  for (const engine of env.engines) await removeContainersByLabel(engine.host, LABEL);
});

after(async () => {
  for (const engine of env.engines) await removeContainersByLabel(engine.host, LABEL);
  for (const { engine, name } of createdNetworks) await docker(engine.host, ['network', 'rm', name]);
  for (const { engine, ref } of pulled) await removeImage(engine.host, ref);
});

describe('test engines', () => {
  it('both answer and are two different engines', async () => {
    const ids = [];
    for (const engine of env.engines) {
      const r = await docker(engine.host, ['info', '--format', '{{.ID}}']);
      assert.equal(r.code, 0, r.stderr);
      ids.push(r.stdout.trim());
    }
    assert.equal(new Set(ids).size, env.engines.length);
    assert.notEqual(engine1.subnet, engine2.subnet);
  });

  it('a container created on engine 1 is listed there and not on engine 2', async () => {
    await pull(engine1, env.images.v1);
    await dockerOk(engine1.host, ['create', '--label', LABEL, '--name', 'berth-harness-only-on-1', env.images.v1]);
    const on1 = await containersByLabel(engine1.host, LABEL);
    const on2 = await containersByLabel(engine2.host, LABEL);
    assert.deepEqual(on1.map((c) => [c.name, c.state, c.labels['berth.test']]), [['berth-harness-only-on-1', 'created', 'harness']]);
    assert.deepEqual(on2, []);
  });

  it('the system engine socket is not one of them', () => {
    for (const engine of env.engines) assert.notEqual(engine.host, 'unix:///var/run/docker.sock');
  });
});

describe('containers on each engine', () => {
  for (const [index, name] of [[0, 'engine 1'], [1, 'engine 2']] as const) {
    it(`serve web:v1 to the host at their ${name} berth-network address`, async () => {
      const engine = env.engines[index]!;
      await ensureBerthNetwork(engine);
      await pull(engine, env.images.v1);
      const container = `berth-harness-web-${index + 1}`;
      await dockerOk(engine.host, ['run', '-d', '--label', LABEL, '--name', container, '--network', 'berth', env.images.v1]);
      const [info] = await containersByLabel(engine.host, `${LABEL}`).then((cs) => cs.filter((c) => c.name === container));
      assert.ok(info, 'container listed');
      assert.equal(info.state, 'running');
      const ip = info.ips.berth ?? '';
      const prefix = engine.subnet.split('.').slice(0, 3).join('.') + '.';
      assert.ok(ip.startsWith(prefix), `address ${ip} inside ${engine.subnet}`);

      assert.deepEqual(await getWhenUp(`http://${ip}/`), { status: 200, body: 'v1\n' });
      assert.equal((await getWhenUp(`http://${ip}/up`)).status, 200);
      // Negative control: a path the image does not serve.
      assert.equal((await getWhenUp(`http://${ip}/no-such-page`)).status, 404);
    });
  }
});

describe('test registry', () => {
  it('serves every test image by digest, one digest per variant', async () => {
    const digests = new Set<string>();
    for (const ref of Object.values(env.images)) {
      const { registry, repo, tag } = splitImageRef(ref);
      assert.equal(registry, env.registry);
      const digest = await registryDigest(registry, repo, tag);
      assert.ok(digest, `${ref} has a digest`);
      assert.equal(await registryDigest(registry, repo, digest), digest);
      digests.add(digest);
    }
    assert.equal(digests.size, Object.keys(env.images).length);
  });

  it('answers null for a tag it does not have', async () => {
    const { registry, repo } = splitImageRef(env.images.v1);
    assert.equal(await registryDigest(registry, repo, 'no-such-tag'), null);
  });

  it('lets engine 2 pull by digest while the tag is absent there', async () => {
    const { registry, repo, tag } = splitImageRef(env.images.v2);
    const digest = await registryDigest(registry, repo, tag);
    assert.ok(digest);
    const pinned = `${registry}/${repo}@${digest}`;
    await removeImage(engine2.host, env.images.v2);
    await removeImage(engine2.host, pinned);
    assert.equal(await imagePresent(engine2.host, env.images.v2), false);

    await pull(engine2, pinned);
    assert.equal(await imagePresent(engine2.host, pinned), true);
    assert.equal(await imagePresent(engine2.host, env.images.v2), false, 'pulling by digest adds no tag');

    // Negative control: a digest the registry does not hold.
    const unknown = `${registry}/${repo}@sha256:${'0'.repeat(64)}`;
    const r = await docker(engine2.host, ['pull', '-q', unknown]);
    assert.notEqual(r.code, 0);
    assert.equal(await imagePresent(engine2.host, unknown), false);
  });
});
