// Attack table: Docker options that reach beyond the container. Property
// protected: a release publishes a host port or mounts the Docker socket only
// on an agent whose owner allowed it (--allow-publish, --allow-host-control-
// mounts); otherwise the release is refused naming the option and the old
// release keeps serving. What tightens (security-opt no-new-privileges, a
// read-only bind) reaches Docker as written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { docker, dockerOk } from '../support/docker-cli.js';
import { waitFor } from '../support/wait.js';
import { freePort, rawGetBody as direct } from '../support/processes.js';

let e: E2eApp;
let allowed: string;
let port: number;

before(async () => {
  allowed = mkdtempSync(join(tmpdir(), 'berth-opts-'));
  port = await freePort();
  e = await setupApp('hostopts', { agentEnv: { BERTH_ALLOW_BINDS: allowed } });
});

after(async () => {
  await e?.teardown();
  rmSync(allowed, { recursive: true, force: true });
});

/** One web role with these `options:` lines (already indented) and top-level `volumes:`. */
function config(tag: string, options: string[] = [], volumes: string[] = [], cmd?: string): string {
  return [
    'service: hostopts',
    `image: ${e.image(tag)}`,
    'servers:',
    '  web:',
    '    hosts:',
    ...e.hosts.map((h) => `      - ${h.server}`),
    ...(cmd ? [`    cmd: ${cmd}`] : []),
    ...(options.length ? ['    options:', ...options.map((o) => `      ${o}`)] : []),
    'proxy:',
    '  host: hostopts.test',
    '  app_port: 80',
    '  healthcheck:',
    '    path: /up',
    '    interval: 1',
    ...(volumes.length ? ['volumes:', ...volumes.map((v) => `  - ${v}`)] : []),
    'deploy_timeout: 20',
    'drain_timeout: 1',
    '',
  ].join('\n');
}

const engineHost = () => e.hosts[0]!.engine.host;
const running = async () =>
  (await dockerOk(engineHost(), ['ps', '--filter', 'label=berth.service=hostopts', '--format', '{{.Names}}'])).trim().split('\n').filter(Boolean);
const inspect = async (name: string, format: string) => (await dockerOk(engineHost(), ['inspect', '-f', format, name])).trim();
const serving = async () => (await e.hosts[0]!.get('hostopts.test')).body;

/** GET / on 127.0.0.1:port, straight to the container's published port. */

async function restartAgent(env: NodeJS.ProcessEnv): Promise<void> {
  await e.hosts[0]!.killAgent();
  await e.hosts[0]!.startAgent({ BERTH_ALLOW_BINDS: allowed, ...env });
}

test('by default: publish and a Docker socket mount load with a warning, the agent refuses them naming its option, the old release keeps serving', async () => {
  e.app.writeConfig(config('v1'));
  const first = await e.push('base1');
  assert.equal(first.code, 0, explain(first, e));
  const before = await running();

  e.app.writeConfig(config('v2', [`publish: "127.0.0.1:${port}:80"`]));
  const pub = await e.push('pub1');
  assert.equal(pub.code, 1, explain(pub, e));
  assert.match(pub.stdout + pub.stderr, /warning: .*publishes host ports; agents refuse the release unless started with berth-agent run --allow-publish/);
  assert.match(pub.stderr, new RegExp(`option publish ${port}/tcp is refused by this agent's guardrails`));
  assert.match(pub.stderr, new RegExp(`berth-agent run --allow-publish ${port}`));
  assert.deepEqual(await running(), before, 'nothing was created or stopped');
  assert.equal(await serving(), 'v1\n');

  e.app.writeConfig(config('v2', [], ['/var/run/docker.sock:/var/run/docker.sock']));
  const sock = await e.push('sock1');
  assert.equal(sock.code, 1, explain(sock, e));
  assert.match(sock.stdout + sock.stderr, /warning: volumes\/0: mounting \/var\/run\/docker.sock gives the container control of the host; agents refuse it unless started with berth-agent run --allow-host-control-mounts/);
  assert.match(sock.stderr, /volume "\/var\/run\/docker.sock:\/var\/run\/docker.sock" is refused by this agent's guardrails/);
  assert.match(sock.stderr, /--allow-host-control-mounts/);
  assert.deepEqual(await running(), before);
  assert.equal(await serving(), 'v1\n');
});

test('what tightens reaches Docker: security-opt no-new-privileges, a read-only bind from options.volume and options.mount', async () => {
  mkdirSync(join(allowed, 'cfg'), { recursive: true });
  writeFileSync(join(allowed, 'cfg', 'app.conf'), 'answer=42\n');
  e.app.writeConfig(config('v2', [
    'security-opt: no-new-privileges:true',
    `volume: ${allowed}/cfg:/etc/app:ro`,
    `mount: "type=bind,source=${allowed}/cfg,target=/etc/app2,readonly"`,
    'network-alias: hostopts-search',
  ]));
  const r = await e.push('tight1');
  assert.equal(r.code, 0, explain(r, e));
  assert.equal(await serving(), 'v2\n');
  const name = (await running()).find((n) => n.startsWith('hostopts-web-tight1'))!;
  assert.equal(await inspect(name, '{{json .HostConfig.SecurityOpt}}'), '["no-new-privileges:true"]');
  const mounts = JSON.parse(await inspect(name, '{{json .Mounts}}')) as { Source: string; Destination: string; RW: boolean }[];
  assert.deepEqual(mounts.map((m) => [m.Destination, m.RW]).sort(), [['/etc/app', false], ['/etc/app2', false]]);
  assert.equal((await dockerOk(engineHost(), ['exec', name, 'cat', '/etc/app/app.conf'])).trim(), 'answer=42');
  const write = await docker(engineHost(), ['exec', name, 'sh', '-c', 'echo x > /etc/app/new']);
  assert.notEqual(write.code, 0, 'the bind is read-only inside the container');
  assert.match(write.stderr, /Read-only file system/);
  assert.match(await inspect(name, '{{json .NetworkSettings.Networks}}'), /hostopts-search/);
});

test('with --allow-publish the port is published; a redeploy stops the old container first and the port answers for the new one', async () => {
  await restartAgent({ BERTH_ALLOW_PUBLISH: String(port) });
  e.app.writeConfig(config('v1', [`publish: "127.0.0.1:${port}:80"`]));
  const r1 = await e.push('pub2');
  assert.equal(r1.code, 0, explain(r1, e));
  assert.equal(await waitFor('the published port', async () => (await direct(port).catch(() => '')) || undefined, 10_000), 'v1\n');

  e.app.writeConfig(config('v2', [`publish: "127.0.0.1:${port}:80"`]));
  const r2 = await e.push('pub3');
  assert.equal(r2.code, 0, explain(r2, e));
  assert.match(r2.stdout + r2.stderr, /publishes host ports, so hostopts-web-pub2\S* stops before the new container starts/);
  assert.equal(await direct(port), 'v2\n');
  assert.equal(await serving(), 'v2\n');
  assert.deepEqual((await running()).filter((n) => n.startsWith('hostopts-web-pub')).map((n) => n.split('-')[2]), ['pub3']);
});

test('a publishing release that fails after the old container was stopped is reverted: the old one serves its port again', async () => {
  e.app.writeConfig(config('v1', [`publish: "127.0.0.1:${port}:80"`], [], 'sh -c "exit 3"'));
  const r = await e.push('pubfail');
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stdout + r.stderr, /started hostopts-web-pub3\S* again/);
  assert.equal(await waitFor('the old container on its port', async () => (await direct(port).catch(() => '')) || undefined, 10_000), 'v2\n');
  assert.equal(await serving(), 'v2\n');
});

test('with --allow-host-control-mounts the Docker socket mount passes; the agent state dir still does not', async () => {
  await restartAgent({ BERTH_ALLOW_HOST_CONTROL_MOUNTS: '1' });
  e.app.writeConfig(config('v1', [], ['/var/run/docker.sock:/var/run/docker.sock:ro']));
  const r = await e.push('sock2');
  assert.equal(r.code, 0, explain(r, e));
  const name = (await running()).find((n) => n.startsWith('hostopts-web-sock2'))!;
  const mounts = JSON.parse(await inspect(name, '{{json .Mounts}}')) as { Source: string; Destination: string }[];
  assert.deepEqual(mounts.map((m) => m.Destination), ['/var/run/docker.sock']);
  assert.match(mounts[0]!.Source, /^\/(var\/)?run\/docker\.sock$/);

  e.app.writeConfig(config('v2', [], [`${e.hosts[0]!.stateDir}:/loot:ro`]));
  const own = await e.push('own1');
  assert.equal(own.code, 1, explain(own, e));
  assert.match(own.stderr, /is refused by this agent's guardrails/);
  assert.equal(await serving(), 'v1\n');
});
