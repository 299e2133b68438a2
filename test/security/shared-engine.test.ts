// Two agents on one Docker engine, each deploying a service of the same name
// and role: each sees, reuses and removes only its own containers. Real agents,
// routers and engine; the agents differ only in their identity (and address).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CLI_BIN, type BerthHost } from '../support/berth-host.js';
import { containersByLabel, dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { spawnProcess } from '../support/processes.js';
import { agentId, loadKey, signedRequest } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

const env = testEnv();
const engine = env.engines[0]!;
// One name for both apps (random, so parallel runs on the shared engine stay apart).
const service = `web${randomBytes(3).toString('hex')}`;
let a: E2eApp;
let b: E2eApp;

before(async () => {
  a = await setupApp(service, { ips: ['127.0.0.41'], engines: [engine] });
  b = await setupApp(service, { ips: ['127.0.0.42'], engines: [engine] });
  for (const app of [a, b]) await app.hosts[0]!.trust(app.keyLine, 'admin');
});
after(async () => {
  await a?.teardown();
  await b?.teardown();
  await dockerOk(engine.host, ['volume', 'rm', '-f', `${service}-data`]).catch(() => undefined);
});

const host = (app: E2eApp): BerthHost => app.hosts[0]!;

/** Every container of the service on the engine, whichever agent made it. */
async function engineContainers() {
  return containersByLabel(engine.host, `berth.service=${service}`);
}

/** What the agent itself reports for the service (`deploy status` reads the same). */
async function listedByAgent(app: E2eApp): Promise<Array<{ id: string; name: string; release: string }>> {
  const h = host(app);
  const r = await signedRequest(h, loadKey(app.app.keyFile), await agentId(h), 'GET', `/v1/services/${service}?destination=`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.service.containers;
}

test('two agents on one engine deploy a service of the same name, role and version: both succeed and each serves its own image', async () => {
  a.configure('v1');
  const ra = await a.push('r1');
  assert.equal(ra.code, 0, explain(ra, a));
  b.configure('v2');
  const rb = await b.push('r1');
  assert.equal(rb.code, 0, explain(rb, b));
  assert.equal((await host(a).get(a.hostHeader)).body, 'v1\n');
  assert.equal((await host(b).get(b.hostHeader)).body, 'v2\n');
  const running = (await engineContainers()).filter((c) => c.state === 'running' && c.labels['berth.kind'] === 'app');
  assert.equal(running.length, 2, 'one running container per agent');
  const names = new Set(running.map((c) => c.name));
  assert.equal(names.size, 2, 'the two containers have different names');
  for (const n of names) assert.match(n, new RegExp(`^${service}-web-r1-[A-Za-z0-9]{6}$`), 'service-role-version-<agent>');
});

test("an agent's listing shows only its own containers", async () => {
  const ownIds = async (app: E2eApp) => {
    const id = await agentId(host(app));
    return (await engineContainers()).filter((c) => c.labels['berth.agent'] === id).map((c) => c.id).sort();
  };
  for (const app of [a, b]) {
    const listed = (await listedByAgent(app)).map((c) => c.id).sort();
    assert.equal(listed.length, 1, JSON.stringify(listed));
    assert.deepEqual(listed, await ownIds(app), 'the listing is the containers labeled with this agent');
  }
});

test("an exec and the app running under one agent survive the other agent's restart", async () => {
  const execs = async () => (await engineContainers()).filter((c) => c.labels['berth.kind'] === 'exec');
  // Waits for a file only the test creates, so the command ends when the test says so.
  const cmd = spawnProcess(process.execPath, [CLI_BIN, 'exec', '--', 'sh', '-c', 'echo started; while [ ! -f /tmp/go ]; do sleep 0.1; done; echo survived'], {
    cwd: a.app.dir,
    env: { BERTH_KEY: a.app.keyFile, NO_COLOR: '1' },
  });
  await cmd.waitForLine(/started/, { timeoutMs: 30_000 });
  const [exec] = await execs();
  assert.ok(exec, 'the command runs in an exec container');
  const aApp = (await listedByAgent(a)).map((c) => c.id);

  // A graceful restart of B's agent (its router keeps running, as under systemd).
  const agentB = host(b).agent!;
  agentB.child.kill('SIGTERM');
  await agentB.exited;
  await host(b).startAgent();
  // The restarted agent has finished its start-up clean-up once it listens.
  assert.equal((await execs()).find((c) => c.id === exec.id)?.state, 'running', `A's exec container is still running\n${host(b).agentLog()}`);
  const left = await engineContainers();
  for (const id of aApp) assert.equal(left.find((c) => c.id === id)?.state, 'running', `A's app container ${id.slice(0, 12)} is still running`);
  assert.equal((await host(a).get(a.hostHeader)).body, 'v1\n');

  await dockerOk(engine.host, ['exec', exec.id, 'touch', '/tmp/go']);
  const exit = await cmd.waitForExit({ timeoutMs: 30_000 });
  assert.equal(exit.code, 0, cmd.output());
  assert.match(cmd.stdout(), /survived/);
  await waitFor('the exec container is removed once the command ended', async () => !(await execs()).some((c) => c.id === exec.id), 30_000, { intervalMs: 100 });
});

test("an agent cannot mount another agent's named volume; its current release keeps serving", async () => {
  const volume = `${service}-data`;
  a.configure('v1', `volumes:\n  - ${volume}:/data\n`);
  const ra = await a.push('r2');
  assert.equal(ra.code, 0, explain(ra, a));
  b.configure('v2', `volumes:\n  - ${volume}:/data\n`);
  const rb = await b.push('r2');
  assert.equal(rb.code, 1, explain(rb, b));
  assert.match(rb.stderr, new RegExp(`volume ${volume} belongs to another Berth agent on this Docker engine`));
  assert.equal((await host(b).get(b.hostHeader)).body, 'v2\n', "b's previous release still serves");
  const bId = await agentId(host(b));
  assert.deepEqual((await engineContainers()).filter((c) => c.labels['berth.agent'] === bId && c.labels['berth.release'] === 'r2'), [], 'b created nothing');
});

test("deploy remove on one agent removes only that agent's containers; the other still serves", async () => {
  const aListed = await listedByAgent(a);
  const aBefore = aListed.map((c) => c.id).sort();
  const bBefore = (await listedByAgent(b)).map((c) => c.id).sort();
  assert.ok(aBefore.length > 0 && bBefore.length > 0);

  const r = await b.app.run(['remove', '-y']);
  assert.equal(r.code, 0, explain(r, b));
  assert.match(r.stdout, /removed 1 container\(s\)/);
  for (const c of aListed) assert.ok(!r.stdout.includes(c.name), `B does not report removing A's ${c.name}:\n${r.stdout}`);
  const left = (await engineContainers()).map((c) => c.id);
  for (const id of aBefore) assert.ok(left.includes(id), `A's container ${id.slice(0, 12)} is still there`);
  for (const id of bBefore) assert.ok(!left.includes(id), `B's container ${id.slice(0, 12)} is gone`);
  assert.equal((await host(a).get(a.hostHeader)).body, 'v1\n', 'A still serves its release');
  assert.deepEqual((await listedByAgent(a)).map((c) => c.id).sort(), aBefore);
});
