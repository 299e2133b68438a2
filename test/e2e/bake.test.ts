// The bake window end to end: `deploy push` with `bake:` against a real agent
// and router. A release that turns unhealthy shortly after the switch is
// switched back by the agent itself (the retained previous container started,
// not re-created), and the agent says why; one that stays healthy is left alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditEntry } from '../../shared/api-types.js';
import { deployYml } from '../support/deploy-cli.js';
import { dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, containerNameOn, loadKey, signedRequest, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
let key: OperatorKey;
let aud: string;

/** deploy.yml with the health check that can turn sick, and a bake window when given. */
function configure(tag: string, bake?: number): void {
  const yml = deployYml({ service: e.service, image: e.image(tag), servers: e.hosts.map((h) => h.server), host: e.hostHeader })
    .replace('path: /up', 'path: /cgi-bin/up');
  e.app.writeConfig(yml + (bake === undefined ? '' : `bake: ${bake}\n`));
}

before(async () => {
  e = await setupApp('bake');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  configure('v1');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});

after(async () => e?.teardown());

const get = async (path: string) => {
  const r = await signedRequest(e.hosts[0]!, key, aud, 'GET', path);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
};
const deployIdOf = (stdout: string, version: string) => Number(new RegExp(`release ${version} accepted as deploy #(\\d+)`).exec(stdout)?.[1]);
const containerOf = async (release: string) => (await e.containers()).find((c) => c.labels['berth.release'] === release);

/** Polls the agent at a gentle pace; a timeout shows its log. */
const until = <T>(what: string, check: () => Promise<T | false | undefined>) =>
  waitFor(what, check, 40_000, { intervalMs: 200, explain: () => e.hosts[0]!.agentLog() });
const eventOf = async (deployId: number, pattern: RegExp) =>
  ((await get(`/v1/deploys/${deployId}`)).events as Array<{ message: string }>).find((ev) => pattern.test(ev.message));

test('a release that turns unhealthy after the switch is switched back by the agent, which says why', async () => {
  const v1Before = await containerOf('r1');
  assert.equal(v1Before?.state, 'running');

  configure('v2', 15);
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, /bake window: each agent watches r2 for 15s and switches back to the previous release by itself if it fails\n$/);
  const bakedId = deployIdOf(r.stdout, 'r2');
  assert.ok(bakedId > 0, r.stdout);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');

  // The app turns sick about 3 s after the switch, once the agent watches it.
  await until('the bake window to start', () => eventOf(bakedId, /^bake window started/));
  await new Promise((res) => setTimeout(res, 3000));
  await dockerOk(e.hosts[0]!.engine.host, ['exec', await containerNameOn(e.hosts[0]!, e.service, 'web', 'r2'), 'touch', '/tmp/sick']);

  await until('the router to serve v1 again', async () => (await e.hosts[0]!.get(e.hostHeader)).body === 'v1\n');
  const v1After = await containerOf('r1');
  assert.deepEqual([v1After?.id, v1After?.state], [v1Before!.id, 'running'], 'r1 was started again, not re-created');
  await until('r2 to stop', async () => (await containerOf('r2'))?.state === 'exited');

  // Why, as an operator sees it: the service, the revert deploy, the baked deploy's events.
  const service = (await get(`/v1/services/${e.service}?destination=`)).service;
  assert.equal(service.current.version, 'r1');
  const revert = await until('the revert to finish', async () => {
    const d = (await get(`/v1/deploys/${service.current.deploy_id}`)).deploy;
    return d.state === 'DONE' ? d : undefined;
  });
  assert.deepEqual(
    { version: revert.version, trigger: revert.trigger, derived_from: revert.derived_from, key_id: revert.key_id },
    { version: 'r1', trigger: 'bake-revert', derived_from: bakedId, key_id: 'agent' },
  );
  const baked = await get(`/v1/deploys/${bakedId}`);
  assert.equal(baked.deploy.state, 'DONE');
  const messages: string[] = baked.events.map((ev: { message: string }) => ev.message);
  assert.ok(messages.some((m) => /^bake window started: watching r2 for 15s .*switches back to r1 if it fails$/.test(m)), messages.join('\n'));
  assert.ok(
    messages.includes(`bake failed: web: health check GET /cgi-bin/up on port 80 failed 3 times in a row (last: HTTP 500); reverting to r1 (deploy ${revert.id})`),
    messages.join('\n'),
  );
  const revertEvents: string[] = (await get(`/v1/deploys/${revert.id}`)).events.map((ev: { message: string }) => ev.message);
  assert.ok(revertEvents.some((m) => /started retained container/.test(m)), revertEvents.join('\n'));
  assert.ok(revertEvents.some((m) => /image .* already present/.test(m)), 'no pull');

  const audit = await auditRows('bake.failed');
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.key_id, 'agent');
  assert.deepEqual(audit[0]!.detail, {
    deploy: bakedId,
    version: 'r2',
    reason: 'web: health check GET /cgi-bin/up on port 80 failed 3 times in a row (last: HTTP 500)',
    reverted_to: 'r1',
    revert_deploy: revert.id,
  });
});

/** What `deploy audit --json` shows for one action: what a user reads. */
async function auditRows(action: string): Promise<AuditEntry[]> {
  const r = await e.app.run(['audit', '--json', '-n', '1000']);
  assert.equal(r.code, 0, explain(r, e));
  return (JSON.parse(r.stdout) as { entries: AuditEntry[] }).entries.filter((x) => x.action === action);
}

test('a release that stays healthy through its bake window keeps serving', async () => {
  configure('v3', 4);
  const r = await e.push('r3');
  assert.equal(r.code, 0, explain(r, e));
  const id = deployIdOf(r.stdout, 'r3');
  const passed = await until('the window to pass', () => eventOf(id, /^bake window (passed|failed|ended)/));
  assert.equal(passed.message, 'bake window passed: r3 stayed healthy for 4s');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v3\n');
  assert.equal((await get(`/v1/services/${e.service}?destination=`)).service.current.deploy_id, id);
  assert.equal((await auditRows('bake.failed')).length, 1, 'no new bake.failed');
});
