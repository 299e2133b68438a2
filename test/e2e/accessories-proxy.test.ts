// An accessory behind the router (Kamal's accessory `proxy:`) against the real
// CLI, agent, Docker, registry and router: `deploy push` boots it and the
// router serves its host once it is healthy; an app redeploy and an agent
// restart keep the route; `deploy accessory stop` takes it away (the router's
// no-service 503) and `start` brings it back; a host a role routes and a bad
// app_port are refused naming the key, with nothing changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

const HOST = 'acc.localhost';
let e: E2eApp;

function accessory(proxy: string): string {
  const [first] = e.hosts.map((h) => h.server.split(':')[0]);
  return `accessories:
  admin:
    image: ${e.image('v1')}
    host: ${first}
    proxy:
${proxy}`;
}
const ROUTED = `      host: ${HOST}\n      app_port: 80\n`;

before(async () => {
  e = await setupApp('accproxy');
  await e.hosts[0]!.trust(e.keyLine, 'admin');
  e.configure('v2', accessory(ROUTED));
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => e?.teardown());

const acc = () => e.hosts[0]!.get(HOST);
const app = () => e.hosts[0]!.get(e.hostHeader);
async function unrouted(): Promise<void> {
  const r = await acc();
  assert.equal(r.status, 503);
  assert.match(r.body, /There is no service for host acc\.localhost/);
}

test('deploy push: the router serves the accessory at its host, beside the app', async () => {
  assert.deepEqual(await acc(), { status: 200, body: 'v1\n' });
  assert.deepEqual(await app(), { status: 200, body: 'v2\n' });
  const config = await e.app.run(['config', '--json']);
  assert.equal(config.code, 0, explain(config, e));
  const shown = JSON.parse(config.stdout) as { accessories: Array<{ proxy: { hosts: string[]; app_port: number } }> };
  assert.deepEqual([shown.accessories[0]?.proxy.hosts, shown.accessories[0]?.proxy.app_port], [[HOST], 80]);
});

test('an app redeploy and an agent restart keep the accessory routed', async () => {
  e.configure('v1', accessory(ROUTED));
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await app(), { status: 200, body: 'v1\n' });
  assert.deepEqual(await acc(), { status: 200, body: 'v1\n' });
  const h = e.hosts[0]!;
  await h.killAgent();
  // The agent listens only once its start-up reconcile is done.
  await h.startAgent();
  assert.deepEqual(await acc(), { status: 200, body: 'v1\n' });
});

test('deploy accessory stop takes the route away; start brings it back', async () => {
  const stop = await e.app.run(['accessory', 'stop', 'admin']);
  assert.equal(stop.code, 0, explain(stop, e));
  await unrouted();
  assert.deepEqual(await app(), { status: 200, body: 'v1\n' }, 'the app keeps its route');
  const start = await e.app.run(['accessory', 'start', 'admin']);
  assert.equal(start.code, 0, explain(start, e));
  assert.deepEqual(await acc(), { status: 200, body: 'v1\n' });
});

test('a host a role routes, and a bad app_port, are refused naming the key; nothing changes', async () => {
  e.configure('v2', accessory(`      host: ${e.hostHeader}\n`));
  const clash = await e.push('r3');
  assert.equal(clash.code, 2, clash.stderr);
  assert.match(clash.stderr, new RegExp(`accessories/admin/proxy/host: ${e.hostHeader.replace(/\./g, '\\.')} under path prefix / is routed by both role web and accessory admin`));
  e.configure('v2', accessory(`      host: ${HOST}\n      app_port: 0\n`));
  const port = await e.push('r3');
  assert.equal(port.code, 2, port.stderr);
  assert.match(port.stderr, /accessories\/admin\/proxy\/app_port: /);
  assert.deepEqual(await app(), { status: 200, body: 'v1\n' });
  assert.deepEqual(await acc(), { status: 200, body: 'v1\n' });
});

test('deploy accessory remove drops the route', async () => {
  e.configure('v1', accessory(ROUTED));
  const r = await e.app.run(['accessory', 'remove', 'admin', '-y']);
  assert.equal(r.code, 0, explain(r, e));
  await unrouted();
});
