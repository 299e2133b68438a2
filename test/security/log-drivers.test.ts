// Attack: a deploy key sets a logging driver or option that makes dockerd
// (root, in the host's network namespace) connect somewhere, load a plugin
// from any unix socket, or fill the disk. The agent refuses such a release
// when it is pushed, naming the driver or option, and creates nothing; the
// agent's owner can still allow a driver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, signedRequest } from '../support/signed-client.js';

let e: E2eApp;

before(async () => {
  // The owner allows gelf, with its address: the positive control.
  e = await setupApp('logdrv', { agentEnv: { BERTH_ALLOW_LOG_DRIVERS: 'gelf', BERTH_ALLOW_LOG_OPTS: 'gelf-address' } });
});
after(async () => {
  await e?.teardown();
});

const logging = (driver: string, options: Record<string, string>) =>
  ['logging:', `  driver: ${JSON.stringify(driver)}`, '  options:', ...Object.entries(options).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`), ''].join('\n');

async function refusedAndNothingCreated(version: string, driver: string, options: Record<string, string>, message: RegExp): Promise<void> {
  e.configure('v1', logging(driver, options));
  const r = await e.push(version);
  assert.notEqual(r.code, 0, explain(r, e));
  assert.match(r.stderr, message, explain(r, e));
  assert.match(r.stderr, /guardrails/, explain(r, e));
  assert.deepEqual(await e.containers(), [], 'no container was created');
  const host = e.hosts[0]!;
  const releases = await signedRequest(host, loadKey(e.app.keyFile), await agentId(host), 'GET', '/v1/services/logdrv/releases');
  assert.equal(releases.status, 404, `no release was recorded: ${JSON.stringify(releases.body)}`);
}

test('a release cannot make dockerd send its logs to a network address (syslog tcp://)', async () => {
  await refusedAndNothingCreated('r1', 'syslog', { 'syslog-address': 'tcp://192.0.2.1:514' }, /logging driver "syslog" is refused by this agent's guardrails: the drivers allowed here are json-file, local, journald, none, gelf/);
});

test('a release cannot make dockerd load a logging plugin from a path of its choosing (../ in the driver name)', async () => {
  await refusedAndNothingCreated('r2', 'x/../../../../tmp/evil', {}, /logging driver "x\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/evil" is refused/);
});

test('a release cannot raise max-size above the agent cap', async () => {
  await refusedAndNothingCreated('r3', 'json-file', { 'max-size': '100g', 'max-file': '3' }, /logging option max-size 100g is refused by this agent's guardrails: this agent allows at most 100m/);
});

test('a release cannot pass an option the driver is not allowed to take', async () => {
  await refusedAndNothingCreated('r4', 'json-file', { 'max-size': '10m', 'syslog-address': 'tcp://192.0.2.1:514' }, /logging option "syslog-address" of driver "json-file" is refused/);
  await refusedAndNothingCreated('r5', 'gelf', { 'gelf-address': 'udp://127.0.0.1:12201', 'gelf-tcp-max-reconnect': '3' }, /logging option "gelf-tcp-max-reconnect" of driver "gelf" is refused/);
});

test('positive control: a driver and option the agent owner allowed deploy and run', async () => {
  e.configure('v1', logging('gelf', { 'gelf-address': 'udp://127.0.0.1:12201', tag: 'web' }));
  const r = await e.push('r6');
  assert.equal(r.code, 0, explain(r, e));
  const running = (await e.containers()).filter((c) => c.labels['berth.kind'] === 'app' && c.state === 'running');
  assert.equal(running.length, 1);
});
