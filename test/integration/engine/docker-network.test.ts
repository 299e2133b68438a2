// The Docker adapter's network: looked up once per agent process, and made
// again when it was removed behind the agent's back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDockerPort } from '../../../agent/docker.js';
import { docker, dockerOk, registryDigest } from '../../support/docker-cli.js';
import { splitImageRef, testEnv } from '../../support/env.js';

const env = testEnv();
const engine = env.engines[1] ?? env.engines[0]!;

test('a network removed after the adapter made sure of it is made again when a container needs it', async () => {
  const tag = randomBytes(4).toString('hex');
  const network = `berth-nettest-${tag}`;
  const name = `berth-nettest-${tag}`;
  const { registry, repo, tag: imageTag } = splitImageRef(env.images.v1);
  const digest = await registryDigest(registry, repo, imageTag);
  assert.ok(digest);
  const image = `${registry}/${repo}@${digest}`;
  const port = createDockerPort(engine.host, network);
  // A /24 unlikely to overlap the other suites' networks on the shared engine.
  const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}.0/24`;
  try {
    await port.pull(image);
    await port.ensureNetwork(network, subnet);
    assert.match(await dockerOk(engine.host, ['network', 'ls', '--format', '{{.Name}}']), new RegExp(`^${network}$`, 'm'));
    await dockerOk(engine.host, ['network', 'rm', network]);

    await port.ensureNetwork(network, subnet);
    const id = await port.createContainer({
      name, image, env: {}, labels: {}, network, restartPolicy: 'no', host: { LogConfig: { Type: 'json-file', Config: {} } }, config: {},
    });
    await port.start(id);
    assert.equal((await port.inspect(id))?.running, true);
    const inspected = JSON.parse(await dockerOk(engine.host, ['network', 'inspect', network])) as Array<{ IPAM: { Config: Array<{ Subnet: string }> }; Labels: Record<string, string> }>;
    assert.equal(inspected[0]?.IPAM.Config[0]?.Subnet, subnet, 'made again with the same subnet');
    assert.equal(inspected[0]?.Labels['berth.kind'], 'network');
  } finally {
    await docker(engine.host, ['rm', '-f', name]);
    await docker(engine.host, ['network', 'rm', network]);
  }
});
