// Two services on one host by path, end to end: the real CLI, agent, router
// and Docker. Kamal's path_prefix strips the prefix by default; a third
// service claiming the same host and prefix is refused at deploy, naming the
// host, the prefix and the holder, and both services keep serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppDir, deployYml } from '../support/deploy-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

let e: E2eApp;
const others: AppDir[] = [];

/** Another service on the same agent and host name, under `proxyLines`. */
async function service(name: string, tag: 'v1' | 'v2', proxyLines: string): Promise<AppDir> {
  const h = e.hosts[0]!;
  const app = new AppDir(name);
  others.push(app);
  const keys = await app.run(['keys', 'new']);
  assert.equal(keys.code, 0, keys.stderr);
  await h.trust(keys.stdout.trim());
  const yml = deployYml({ service: name, image: e.image(tag), servers: [h.server], host: e.hostHeader });
  app.writeConfig(yml.replace(`  host: ${e.hostHeader}\n`, `  host: ${e.hostHeader}\n${proxyLines}`));
  assert.equal((await app.run(['server', 'add', h.server])).code, 0);
  return app;
}

before(async () => {
  e = await setupApp('paths');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => {
  await e?.teardown();
  for (const app of others) app.cleanup();
});

const get = (path: string) => e.hosts[0]!.get(e.hostHeader, path);

test('a second service under /api on the same host: its prefix is stripped, the first keeps every other path', async () => {
  const api = await service('paths-api', 'v2', '  path_prefix: /api,/v2api\n');
  const r = await api.run(['push', '--version', 'a1']);
  assert.equal(r.code, 0, explain(r, e));
  assert.doesNotMatch(r.stderr, /path_prefix/, 'no warning: the prefix is applied');
  assert.deepEqual(await get('/'), { status: 200, body: 'v1\n' });
  assert.deepEqual(await get('/api'), { status: 200, body: 'v2\n' }, '/api reaches the app as /');
  assert.deepEqual(await get('/v2api/'), { status: 200, body: 'v2\n' });
  assert.deepEqual(await get('/api/cgi-bin/env?WEB_VERSION'), { status: 200, body: 'v2\n' });
  assert.deepEqual(await get('/cgi-bin/env?WEB_VERSION'), { status: 200, body: 'v1\n' });
  assert.equal((await get('/api/../cgi-bin/env?WEB_VERSION')).status, 400, 'a dot segment cannot leave the prefix');
});

test('a third service claiming the same host and prefix is refused at deploy, naming them; both keep serving', async () => {
  const clash = await service('paths-clash', 'v1', '  path_prefix: /api/\n');
  const r = await clash.run(['push', '--version', 'c1']);
  assert.notEqual(r.code, 0, explain(r, e));
  assert.match(r.stdout + r.stderr, new RegExp(`host ${e.hostHeader.replace('.', '\\.')} under path prefix /api/ is already served by paths-api on this server`));
  assert.deepEqual(await get('/api'), { status: 200, body: 'v2\n' });
  assert.deepEqual(await get('/'), { status: 200, body: 'v1\n' });
  const running = (await e.containers()).filter((c) => c.state === 'running');
  assert.deepEqual(running.map((c) => c.labels['berth.release']), ['r1'], 'the first service still runs its release');
});
