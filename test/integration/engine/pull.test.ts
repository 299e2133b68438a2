// The Docker adapter against a real engine and registry: pulls by digest are
// followed to the end of Docker's progress stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDockerPort } from '../../../agent/docker.js';
import { UpstreamError } from '../../../shared/errors.js';
import { imagePresent, registryDigest, removeImage } from '../../support/docker-cli.js';
import { splitImageRef, testEnv } from '../../support/env.js';

const env = testEnv();
const engine = env.engines[1] ?? env.engines[0]!;

test('pull by digest completes, reports progress up to 100 %, and the image is then present', async () => {
  const { registry, repo, tag } = splitImageRef(env.images.v3);
  const digest = await registryDigest(registry, repo, tag);
  assert.ok(digest);
  const ref = `${registry}/${repo}@${digest}`;
  await removeImage(engine.host, ref);
  const docker = createDockerPort(engine.host);
  assert.equal(await docker.imagePresent(ref), false);

  const progress: number[] = [];
  await docker.pull(ref, { onProgress: (percent) => progress.push(percent) });

  assert.equal(await imagePresent(engine.host, ref), true, 'docker sees the image');
  assert.equal(await docker.imagePresent(ref), true);
  assert.equal(progress.at(-1), 100);
  assert.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]!), `progress never goes back: ${progress.join(',')}`);
});

test('a pull of an unknown digest rejects with the registry error', async () => {
  const { registry, repo } = splitImageRef(env.images.v1);
  const ref = `${registry}/${repo}@sha256:${'0'.repeat(64)}`;
  const docker = createDockerPort(engine.host);
  await assert.rejects(docker.pull(ref), (err: unknown) => {
    assert.ok(err instanceof UpstreamError);
    assert.match(err.message, /docker pull .* failed: .*(manifest unknown|not found)/i);
    return true;
  });
  assert.equal(await docker.imagePresent(ref), false);
});

test('a pull from a registry that does not answer rejects', async () => {
  const docker = createDockerPort(engine.host);
  await assert.rejects(docker.pull(`127.0.0.1:9/nothing/here@sha256:${'1'.repeat(64)}`), UpstreamError);
});

test('the adapter refuses a docker host it cannot use; a unix socket is a positive control', async () => {
  assert.throws(() => createDockerPort('ftp://example.com'), /is not unix:\/\/\/PATH or tcp:\/\/HOST:PORT/);
  await createDockerPort(engine.host).ping();
});
