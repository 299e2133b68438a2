// A role's Docker settings reach a real engine as docker run would set them;
// settings the agent's guardrails refuse never reach Docker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { docker, dockerOk } from '../../support/docker-cli.js';
import { sealFor, startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';

let f: EngineFixture;
let bindRoot: string;
const volume = `berth-test-${randomBytes(4).toString('hex')}`;

before(async () => {
  // Under /tmp, so the default allow-list (/data, /srv) would refuse it: the policy is what allows it.
  bindRoot = await mkdtemp('/tmp/berth-binds-');
  f = await startEngineFixture('dock', undefined, { guardrails: guardrailPolicy({ allowBinds: [bindRoot] }) });
});
after(async () => {
  await f?.close();
  await docker(f.engineHost, ['volume', 'rm', '-f', volume]).catch(() => undefined);
  await rm(bindRoot, { recursive: true, force: true });
});

interface Inspected {
  HostConfig: { Memory: number; NanoCpus: number; LogConfig: { Type: string; Config: Record<string, string> }; Privileged: boolean; Init: boolean | null };
  Mounts: Array<{ Type: string; Name?: string; Source: string; Destination: string; RW: boolean }>;
}

async function inspect(name: string): Promise<Inspected> {
  const [c] = JSON.parse(await dockerOk(f.engineHost, ['inspect', name])) as Inspected[];
  assert.ok(c, `container ${name} exists`);
  return c;
}

const proxied = () => ({ proxy: { hosts: [f.host], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 2 } } });

test('named volume, allowed bind mount, memory, cpus and json-file logging show in docker inspect', async () => {
  const data = join(bindRoot, 'storage');
  const m = f.manifest('d1', await f.digestOf('v1'), {
    roles: {
      web: {
        ...proxied(),
        volumes: [`${volume}:/named`, `${data}:/bound:ro`],
        logging: { driver: 'json-file', options: { 'max-size': '1m', 'max-file': '2' } },
        options: { memory: '64m', cpus: 0.5, init: true },
      },
    },
  });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal((await f.get()).body, 'v1\n');

  const c = await inspect(f.containerName('d1'));
  assert.equal(c.HostConfig.Memory, 64 * 1024 * 1024);
  assert.equal(c.HostConfig.NanoCpus, 500_000_000);
  assert.equal(c.HostConfig.Init, true);
  assert.deepEqual(c.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2' } });
  const named = c.Mounts.find((x) => x.Destination === '/named');
  assert.equal(named?.Type, 'volume');
  assert.equal(named?.Name, volume);
  const volumeLabels = JSON.parse(await dockerOk(f.engineHost, ['volume', 'inspect', '--format', '{{json .Labels}}', volume])) as Record<string, string>;
  assert.deepEqual(volumeLabels, { 'berth.agent': f.agentId, 'berth.kind': 'volume' }, 'the agent created the volume, with its id');
  const bound = c.Mounts.find((x) => x.Destination === '/bound');
  assert.deepEqual([bound?.Type, bound?.Source, bound?.RW], ['bind', data, false]);
});

test('without logging settings the container gets capped json-file logs', async () => {
  const d = await f.deploy(f.manifest('d2', await f.digestOf('v2'), { roles: { web: proxied() } }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  const c = await inspect(f.containerName('d2'));
  assert.deepEqual(c.HostConfig.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
});

test('privileged or a Docker socket bind never reaches Docker: the deploy is reverted and no container exists', async () => {
  const image = await f.digestOf('v1');
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['p1', { options: { privileged: true } }, /^role web: option privileged is refused by this agent's guardrails/],
    ['p2', { volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }, /^role web: volume "\/var\/run\/docker.sock:\/var\/run\/docker.sock" is refused/],
    ['p3', { volumes: ['/home:/home'] }, /outside the host directories this agent allows/],
  ];
  for (const [version, extra, message] of cases) {
    const d = await f.deploy(f.manifest(version, image, { roles: { web: { ...proxied(), ...extra } } }));
    assert.equal(d.state, 'REVERTED', version);
    assert.match(d.error ?? '', message);
    assert.equal((await f.containers()).filter((c) => c.labels['berth.release'] === version).length, 0, `${version}: no container`);
    assert.equal((await f.get()).body, 'v2\n', 'the current release still serves');
  }
});

test('the same version with the same secret sealed again reuses the running container; another value is refused', async () => {
  const image = await f.digestOf('v3');
  const withSecret = async (value: string) =>
    f.manifest('d3', image, { roles: { web: { ...proxied(), env: { secret: { TOKEN: await sealFor(f, value, { name: 'TOKEN' }) } }, options: { memory: '64m' } } } });
  const first = await f.deploy(await withSecret('alpha'));
  assert.equal(first.state, 'DONE', first.error ?? '');
  const container = (await f.containers()).find((c) => c.labels['berth.release'] === 'd3');
  assert.ok(container && !JSON.stringify(container.labels).includes('alpha'), 'the label does not show the secret');

  const again = await f.deploy(await withSecret('alpha'));
  assert.equal(again.state, 'DONE', again.error ?? '');
  assert.ok(f.store.events(again.id).some((e) => /reusing running container/.test(e.message)));
  assert.deepEqual((await f.containers()).filter((c) => c.labels['berth.release'] === 'd3').map((c) => c.id), [container.id]);

  const changed = await f.deploy(await withSecret('beta'));
  assert.equal(changed.state, 'REVERTED');
  assert.match(changed.error ?? '', /release d3 is already running with a different configuration/);
});

test('env names with dots (OpenSearch discovery.type), clear and sealed, reach the container as written', async () => {
  const m = f.manifest('d4', await f.digestOf('v1'), {
    roles: {
      web: {
        ...proxied(),
        env: { clear: { 'discovery.type': 'single-node' }, secret: { 'opensearch.password': await sealFor(f, 's3cret-value', { name: 'opensearch.password' }) } },
      },
    },
  });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  const [c] = JSON.parse(await dockerOk(f.engineHost, ['inspect', f.containerName('d4')])) as Array<{ Config: { Env: string[] } }>;
  assert.ok(c?.Config.Env.includes('discovery.type=single-node'), JSON.stringify(c?.Config.Env.filter((e) => !e.includes('s3cret'))));
  assert.ok(c?.Config.Env.includes('opensearch.password=s3cret-value'), 'the sealed value is opened for its dotted name');
});
