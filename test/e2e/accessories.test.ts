// Accessories through the CLI, as a Kamal user writes them: `deploy push`
// boots the accessory on the server it is placed on (and only there), the app
// reaches it by `<service>-<name>`, its file, secret and port are in place;
// a second push never replaces it; a changed spec waits for `deploy accessory
// reboot`, which keeps the data; stop/start, remove (data kept) and
// remove --purge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AccessoriesResponse } from '../../shared/api-responses.js';
import { testEnv } from '../support/env.js';
import { containersByLabel } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

const env = testEnv();
const SECRET = 'accessory-e2e-secret';
const PORT = 20_000 + Math.floor(Math.random() * 20_000);
let e: E2eApp;

function accessories(mode: string): string {
  const [first] = e.hosts.map((h) => h.server.split(':')[0]);
  return `env:
  secret:
    - CACHE_TOKEN
accessories:
  cache:
    image: ${e.image('v1')}
    host: ${first}
    port: "127.0.0.1:${PORT}:80"
    env:
      clear:
        MODE: ${mode}
      secret:
        - CACHE_TOKEN
    files:
      - config/cache.conf:/etc/cache.conf
    directories:
      - data:/data
`;
}

before(async () => {
  assert.ok(env.engines.length >= 2, 'the harness provides two engines');
  e = await setupApp('accs', { ips: ['127.0.0.2', '127.0.0.3'], engines: [env.engines[0]!, env.engines[1]!] });
  for (const h of e.hosts) await h.trust(e.keyLine, 'admin');
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `CACHE_TOKEN=${SECRET}\n`);
  mkdirSync(join(e.app.dir, 'config'), { recursive: true });
  writeFileSync(join(e.app.dir, 'config', 'cache.conf'), 'maxmemory 64mb\n');
  e.configure('v1', accessories('one'));
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => e?.teardown());

async function run(args: string[], code = 0): Promise<string> {
  const r = await e.app.run(args);
  assert.equal(r.code, code, explain(r, e));
  return r.stdout;
}
const cacheContainers = (i: number) => containersByLabel(e.hosts[i]!.engine.host, `berth.accessory=cache`).then((cs) => cs.filter((c) => c.labels['berth.service'] === e.service));
const details = async () => JSON.parse(await run(['accessory', 'details', 'cache', '--json'])) as { servers: Array<{ host: string; accessories?: AccessoriesResponse['accessories'] }> };

function getLocal(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('push boots the accessory on its server only; the app reaches it by name; file, secret and port are in place', async () => {
  const [c] = await cacheContainers(0);
  assert.equal(c?.state, 'running');
  assert.deepEqual(await cacheContainers(1), [], 'placed on the first server only');

  const reached = await run(['exec', '--host', e.hosts[0]!.server, '--', 'wget', '-qO-', `http://${e.service}-cache/`]);
  assert.match(reached, /v1/);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'cat', '/etc/cache.conf']), /maxmemory 64mb/);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'sh', '-c', 'echo "len=${#CACHE_TOKEN} mode=$MODE"']), new RegExp(`len=${SECRET.length} mode=one`));
  assert.equal(await getLocal(PORT), 'v1\n', 'published on the host as port: says');

  const d = await details();
  const acc = d.servers.find((s) => s.accessories?.length)?.accessories?.[0];
  assert.deepEqual([acc?.name, acc?.state, acc?.host, acc?.changes], ['cache', 'running', `${e.service}-cache`, []]);
});

test('a second push keeps the running accessory; a changed spec waits for reboot, which applies it and keeps the data', async () => {
  await run(['accessory', 'exec', 'cache', '--', 'sh', '-c', 'echo kept > /data/x']);
  const [before] = await cacheContainers(0);
  const again = await e.push('r2');
  assert.equal(again.code, 0, explain(again, e));
  const [same] = await cacheContainers(0);
  assert.ok(before?.id !== undefined);
  assert.equal(same?.id, before?.id, 'the same container: not replaced');

  e.configure('v1', accessories('two'));
  const changed = await e.push('r3');
  assert.equal(changed.code, 0, explain(changed, e));
  const pending = (await details()).servers.flatMap((s) => s.accessories ?? [])[0];
  assert.deepEqual(pending?.changes, ['env MODE']);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'sh', '-c', 'echo mode=$MODE']), /mode=one/, 'the running one is untouched');

  const rebooted = await run(['accessory', 'reboot', 'cache', '-y']);
  assert.match(rebooted, /env MODE/);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'sh', '-c', 'echo mode=$MODE; cat /data/x']), /mode=two\nkept/);
  assert.deepEqual((await details()).servers.flatMap((s) => s.accessories ?? [])[0]?.changes, []);
});

test('stop and start keep the data; remove keeps the kept directory, remove --purge deletes it', async () => {
  await run(['accessory', 'stop', 'cache']);
  assert.equal((await cacheContainers(0))[0]?.state, 'exited');
  await run(['accessory', 'start', 'cache']);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'cat', '/data/x']), /kept/);

  const kept = join(e.hosts[0]!.stateDir, 'accessories', e.service, 'cache', 'dirs', 'data', 'x');
  assert.ok(existsSync(kept), kept);
  await run(['accessory', 'remove', 'cache', '-y']);
  assert.deepEqual(await cacheContainers(0), []);
  assert.ok(existsSync(kept), 'remove keeps the data');
  await run(['accessory', 'boot', 'cache']);
  assert.match(await run(['accessory', 'exec', 'cache', '--', 'cat', '/data/x']), /kept/);
  await run(['accessory', 'remove', 'cache', '--purge', '-y']);
  assert.deepEqual(await cacheContainers(0), []);
  assert.ok(!existsSync(kept), 'purge deletes it');
});

test('an unknown accessory is a usage error before any server is asked', async () => {
  const r = await e.app.run(['accessory', 'boot', 'nosuch']);
  assert.equal(r.code, 2, explain(r, e));
  assert.match(r.stderr, /cache/);
});

test('an accessory taken out of deploy.yml keeps running after a push, and deploy accessory remove still removes it', async () => {
  await run(['accessory', 'boot', 'cache']);
  e.configure('v1', 'env:\n  secret:\n    - CACHE_TOKEN\n');
  const pushed = await e.push('r4');
  assert.equal(pushed.code, 0, explain(pushed, e));
  assert.equal((await cacheContainers(0))[0]?.state, 'running', 'a deploy never removes an accessory');
  await run(['accessory', 'remove', 'cache', '-y']);
  assert.deepEqual(await cacheContainers(0), []);
});

test('deploy remove takes the accessory container along and leaves its kept data', async () => {
  e.configure('v1', accessories('two'));
  const pushed = await e.push('r5');
  assert.equal(pushed.code, 0, explain(pushed, e));
  await run(['accessory', 'exec', 'cache', '--', 'sh', '-c', 'echo again > /data/y']);
  const removed = await run(['remove', '-y']);
  assert.match(removed, /removed \d+ container/);
  assert.deepEqual(await cacheContainers(0), []);
  assert.ok(existsSync(join(e.hosts[0]!.stateDir, 'accessories', e.service, 'cache', 'dirs', 'data', 'y')), 'the data stays');
});
