// Attack table: an accessory's Docker options that reach beyond the
// container (Kamal passes them to docker run as a role's). Property
// protected: they meet exactly the role's guardrails. A published host port
// needs the agent's --allow-publish (without it the release is refused and
// nothing is created); a bind is judged like volumes: and a read-only one is
// read-only inside; a named volume is this agent's (one another agent made is
// refused); `deploy accessory reboot` of a publishing accessory frees the port
// before the new container takes it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { containersByLabel, docker, dockerOk } from '../support/docker-cli.js';
import { waitFor } from '../support/wait.js';
import { freePort, rawGetBody as direct } from '../support/processes.js';

let e: E2eApp;
let allowed: string;
let port: number;
const suffix = randomBytes(4).toString('hex');
const DATA = `accopts-data-${suffix}`;
const FOREIGN = `accopts-foreign-${suffix}`;

const engineHost = () => e.hosts[0]!.engine.host;

before(async () => {
  allowed = mkdtempSync(join(tmpdir(), 'berth-accopts-'));
  mkdirSync(join(allowed, 'cfg'));
  writeFileSync(join(allowed, 'cfg', 'cache.conf'), 'maxmemory 64mb\n');
  port = await freePort();
  e = await setupApp('accopts', { agentEnv: { BERTH_ALLOW_BINDS: allowed } });
  await e.hosts[0]!.trust(e.keyLine, 'admin');
});

after(async () => {
  await e?.teardown();
  if (e) for (const v of [DATA, FOREIGN]) await docker(engineHost(), ['volume', 'rm', '-f', v]);
  rmSync(allowed, { recursive: true, force: true });
});

/** The app as usual, plus accessory `cache` (the app's image, serving on 80) with these `options:` lines. */
function withCache(options: string[]): void {
  const host = e.hosts[0]!.server.split(':')[0];
  e.configure('v1', ['accessories:', '  cache:', `    image: ${e.image('v1')}`, `    host: ${host}`, '    options:', ...options.map((o) => `      ${o}`), ''].join('\n'));
}

const caches = async () => (await containersByLabel(engineHost(), 'berth.accessory=cache')).filter((c) => c.labels['berth.service'] === e.service);
const inspect = async (name: string, format: string) => (await dockerOk(engineHost(), ['inspect', '-f', format, name])).trim();

async function run(args: string[], code = 0): Promise<string> {
  const r = await e.app.run(args);
  assert.equal(r.code, code, explain(r, e));
  return r.stdout;
}

/** GET / straight to the published port on 127.0.0.1. */
const answers = () => waitFor('the published port to answer', async () => (await direct(port).catch(() => '')) || undefined, 15_000);

test('without --allow-publish: the config loads with the warning, the agent refuses the release naming the port, nothing is created', async () => {
  withCache([`publish: "127.0.0.1:${port}:80"`]);
  const r = await e.push('pub1');
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stdout + r.stderr, /warning: accessories\/cache\/options\/publish: publishes host ports; agents refuse the release unless started with berth-agent run --allow-publish/);
  assert.match(r.stderr, new RegExp(`accessory cache: option publish ${port}/tcp is refused by this agent's guardrails`));
  assert.match(r.stderr, new RegExp(`--allow-publish ${port}`));
  assert.deepEqual(await caches(), []);
  assert.deepEqual(await e.containers(), [], 'not even the app: the whole release was refused');
});

test("a named volume another agent made is not this accessory's: the boot fails, no container stays", async () => {
  await dockerOk(engineHost(), ['volume', 'create', '--label', `berth.agent=${'o'.repeat(43)}`, FOREIGN]);
  withCache([`volume: ${FOREIGN}:/loot`]);
  const r = await e.push('foreign1');
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stdout + r.stderr, new RegExp(`volume ${FOREIGN} belongs to another Berth agent`));
  assert.deepEqual(await caches(), []);
});

test('with --allow-publish: reachable on 127.0.0.1:PORT; a read-only bind is read-only inside; its named volume is labeled with this agent; its alias resolves', async () => {
  await e.hosts[0]!.killAgent();
  await e.hosts[0]!.startAgent({ BERTH_ALLOW_BINDS: allowed, BERTH_ALLOW_PUBLISH: String(port) });
  withCache([
    `publish: "127.0.0.1:${port}:80"`,
    `mount: "type=bind,source=${allowed}/cfg,target=/etc/cache,readonly"`,
    `volume: ${DATA}:/data`,
    'network-alias: kv',
  ]);
  const r = await e.push('ok1');
  assert.equal(r.code, 0, explain(r, e));
  assert.equal(await answers(), 'v1\n');

  const [c] = await caches();
  assert.equal(c?.state, 'running');
  const name = c!.name;
  assert.equal((await dockerOk(engineHost(), ['exec', name, 'cat', '/etc/cache/cache.conf'])).trim(), 'maxmemory 64mb');
  const write = await docker(engineHost(), ['exec', name, 'sh', '-c', 'echo x > /etc/cache/new']);
  assert.notEqual(write.code, 0, 'the bind is read-only inside the container');
  assert.match(write.stderr, /Read-only file system/);

  const agent = await inspect(name, '{{index .Config.Labels "berth.agent"}}');
  assert.match(agent, /^\S{20,}$/);
  assert.equal((await dockerOk(engineHost(), ['volume', 'inspect', '-f', '{{index .Labels "berth.agent"}}', DATA])).trim(), agent);
  await dockerOk(engineHost(), ['exec', name, 'sh', '-c', 'echo kept > /data/x']);

  const reached = await run(['exec', '--host', e.hosts[0]!.server, '--', 'wget', '-qO-', 'http://kv/']);
  assert.match(reached, /v1/, 'the app reaches the accessory by its network-alias');
});

test('a changed option waits for reboot; reboot stops the old container before the new one takes the port; the volume keeps its data', async () => {
  const [old] = await caches();
  withCache([
    `publish: "127.0.0.1:${port}:80"`,
    `mount: "type=bind,source=${allowed}/cfg,target=/etc/cache,readonly"`,
    `volume: ${DATA}:/data`,
    'network-alias: [kv, cache-kv]',
  ]);
  const r = await e.push('ok2');
  assert.equal(r.code, 0, explain(r, e));
  const details = JSON.parse(await run(['accessory', 'details', 'cache', '--json'])) as { servers: Array<{ accessories?: Array<{ changes: string[] }> }> };
  assert.deepEqual(details.servers.flatMap((s) => s.accessories ?? [])[0]?.changes, ['options']);
  assert.equal((await caches())[0]?.id, old?.id, 'not replaced by a deploy');

  const rebooted = await run(['accessory', 'reboot', 'cache', '-y']);
  assert.match(rebooted, /options/);
  const [now] = await caches();
  assert.notEqual(now?.id, old?.id);
  assert.equal(now?.state, 'running');
  assert.equal(await answers(), 'v1\n');
  assert.equal((await dockerOk(engineHost(), ['exec', now!.name, 'cat', '/data/x'])).trim(), 'kept');
  assert.match(await run(['exec', '--host', e.hosts[0]!.server, '--', 'wget', '-qO-', 'http://cache-kv/']), /v1/);
});
