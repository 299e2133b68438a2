// Attack table: bind mounts. Property protected: a container managed by the
// agent is never started with a host path outside the allowed directories
// mounted — not at its first start, not when Docker's restart policy or a
// daemon restart starts it again, not when Berth starts a retained container
// for a rollback or a bake revert.
//
// The attack: a release that can write a directory replaces a directory below
// it with a symlink to a host path (here a directory standing in for
// /var/lib/berth), then gets a container that binds the path below started
// again. Docker follows the symlink at every start.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { AppDir } from '../support/deploy-cli.js';
import { docker, dockerOk } from '../support/docker-cli.js';
import { waitFor } from '../support/wait.js';
import { agentId } from '../support/signed-client.js';

let e: E2eApp;
let allowed: string;
let secretDir: string;
const SECRET = `berth-secret-${process.pid}`;

before(async () => {
  allowed = mkdtempSync(join(tmpdir(), 'berth-allowed-'));
  secretDir = mkdtempSync(join(tmpdir(), 'berth-host-secret-'));
  writeFileSync(join(secretDir, 'secret.txt'), `${SECRET}\n`);
  e = await setupApp('bindesc', { agentEnv: { BERTH_ALLOW_BINDS: allowed } });
});

after(async () => {
  await e?.teardown();
  rmSync(allowed, { recursive: true, force: true });
  rmSync(secretDir, { recursive: true, force: true });
});

/** A deploy.yml with one web role running `cmd` and these volumes. */
function config(service: string, image: string, volumes: string[], cmd?: string): string {
  return [
    `service: ${service}`,
    `image: ${image}`,
    'servers:',
    '  web:',
    '    hosts:',
    ...e.hosts.map((h) => `      - ${h.server}`),
    ...(cmd ? [`    cmd: ${cmd}`] : []),
    'proxy:',
    `  host: ${service}.test`,
    '  app_port: 80',
    '  healthcheck:',
    '    path: /up',
    '    interval: 1',
    ...(volumes.length ? ['volumes:', ...volumes.map((v) => `  - ${v}`)] : []),
    'deploy_timeout: 20',
    'drain_timeout: 2',
    '',
  ].join('\n');
}

const engineHost = () => e.hosts[0]!.engine.host;
const containersOf = async (service: string) =>
  (await dockerOk(engineHost(), ['ps', '-a', '--filter', `label=berth.service=${service}`, '--format', '{{.Names}} {{.State}}'])).trim().split('\n').filter(Boolean).sort();
const logsOf = async (name: string) => {
  const r = await docker(engineHost(), ['logs', name]);
  return r.stdout + r.stderr;
};

/** Plants the symlink from inside a container that can write `dir`, as an attacker's release would. */
async function plantFromContainer(image: string, dir: string): Promise<void> {
  await dockerOk(engineHost(), ['run', '--rm', '-v', `${dir}:/plant`, image, 'sh', '-c', `rm -rf /plant/sub && ln -s ${secretDir} /plant/sub`]);
}

test('a release whose writable bind holds its own read-only bind is refused before anything runs (restart-policy escape)', async () => {
  const x = join(allowed, 'x');
  mkdirSync(join(x, 'sub'), { recursive: true });
  // The container waits for a go, swaps sub for a symlink to the host secret and exits;
  // the restart policy starts it again and it prints what /loot now shows.
  writeFileSync(
    join(x, 'attack.sh'),
    `if [ -f /loot/secret.txt ]; then echo "ESCAPED $(cat /loot/secret.txt)"; fi\n` +
      `(while [ ! -e /plant/go ]; do sleep 0.2; done; rm -f /plant/go; rm -rf /plant/sub; ln -s ${secretDir} /plant/sub; kill 1) &\n` +
      'exec /start.sh\n',
  );
  e.app.writeConfig(config('bindesc', e.image('v1'), [`${x}:/plant`, `${x}/sub:/loot:ro`], 'sh /plant/attack.sh'));
  const r = await e.push('attack1');
  if (r.code === 0) {
    writeFileSync(join(x, 'go'), '');
    const name = (await containersOf('bindesc'))[0]!.split(' ')[0]!;
    const leaked = await waitFor('the restarted container', async () => (await logsOf(name)).match(/ESCAPED .*/)?.[0], 20_000).catch(() => 'no leak seen');
    assert.fail(`the release was accepted; after a restart its container said: ${leaked}`);
  }
  assert.equal(r.code, 1, explain(r, e));
  assert.match(r.stderr, new RegExp(`host path ${x}/sub \\(role web\\) lies inside ${x}, which role web can write`));
  assert.match(r.stderr, /bind sibling directories instead of one inside another, or mount the outer one read-only/);
  assert.deepEqual(await containersOf('bindesc'), [], 'nothing was created');
  assert.ok(existsSync(join(x, 'sub')) && !existsSync(join(x, 'sub', 'secret.txt')));
});

test("a release that could write a directory above another service's bind is refused; the other service keeps its mount (cross-service escape)", async () => {
  const y = join(allowed, 'y');
  mkdirSync(join(y, 'sub'), { recursive: true });
  writeFileSync(join(y, 'sub', 'own.txt'), 'victim data\n');
  // The victim reads what its bind shows at each start.
  e.app.writeConfig(config('bindesc', e.image('v1'), [`${y}/sub:/data:ro`], 'sh -c "cat /data/*.txt; exec /start.sh"'));
  const victim = await e.push('victim1');
  assert.equal(victim.code, 0, explain(victim, e));

  const attacker = new AppDir('bindesc-attacker');
  try {
    await attacker.run(['keys', 'new']);
    await e.hosts[0]!.trust((await attacker.run(['keys', 'show'])).stdout.trim());
    assert.equal((await attacker.run(['server', 'add', e.hosts[0]!.server])).code, 0);
    attacker.writeConfig(config('bindattacker', e.image('v1'), [`${y}:/plant`]));
    const r = await attacker.run(['push', '--version', 'a1']);
    if (r.code === 0) {
      await plantFromContainer(e.image('v1'), y);
      const name = (await containersOf('bindesc'))[0]!.split(' ')[0]!;
      await dockerOk(engineHost(), ['restart', '-t', '1', name]);
      const seen = await waitFor('the victim restarted', async () => ((await logsOf(name)).includes(SECRET) ? 'the host secret' : undefined), 10_000).catch(() => 'its own data');
      assert.fail(`the attacker's release was accepted; after a restart the victim's bind showed ${seen}`);
    }
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`host path ${y}/sub \\(container bindesc-web-victim1[^)]*\\) lies inside ${y}, which container bindattacker-web-a1\\S* can write`));
    assert.deepEqual(await containersOf('bindattacker'), [], 'no attacker container is left');
    assert.equal((await e.hosts[0]!.get('bindesc.test')).body, 'v1\n', 'the victim still serves');
  } finally {
    attacker.cleanup();
    await docker(engineHost(), ['rm', '-f', ...(await containersOf('bindattacker')).map((l) => l.split(' ')[0]!)]);
  }
});

test('a rollback does not start a retained container whose bind now leads outside the allowed directories', async () => {
  const z = join(allowed, 'z');
  mkdirSync(join(z, 'sub'), { recursive: true });
  e.app.writeConfig(config('bindesc', e.image('v1'), [`${z}/sub:/loot:ro`], 'sh -c "cat /loot/*.txt; exec /start.sh"'));
  const r1 = await e.push('rb1');
  assert.equal(r1.code, 0, explain(r1, e));

  // The next release can write z: refused while rb1's container (live, then retained) binds z/sub.
  e.app.writeConfig(config('bindesc', e.image('v2'), [`${z}:/plant`]));
  const bad = await e.push('rb-writer');
  assert.equal(bad.code, 1, explain(bad, e));
  assert.match(bad.stderr, new RegExp(`host path ${z}/sub \\(container bindesc-web-rb1[^)]*\\) lies inside ${z}`));
  assert.equal((await e.hosts[0]!.get('bindesc.test')).body, 'v1\n');

  e.app.writeConfig(config('bindesc', e.image('v2'), []));
  const r2 = await e.push('rb2');
  assert.equal(r2.code, 0, explain(r2, e));
  // Whatever else on the host swaps z/sub for a symlink, a start by Berth judges the path again.
  await plantFromContainer(e.image('v1'), z);
  const before = await containersOf('bindesc');

  const rb = await e.app.run(['rollback', 'rb1']);
  assert.equal(rb.code, 1, explain(rb, e));
  assert.match(rb.stderr, new RegExp(`host path ${z}/sub now resolves to ${secretDir}: a directory on the way was replaced by a symlink`));
  assert.equal((await e.hosts[0]!.get('bindesc.test')).body, 'v2\n', 'the current release keeps serving');
  assert.deepEqual(await containersOf('bindesc'), before, 'the retained container was not started');
  const retained = before.find((l) => l.startsWith('bindesc-web-rb1'))!.split(' ')[0]!;
  assert.ok(!(await logsOf(retained)).includes(SECRET), 'the retained container never saw the host path');
});

test('a container from before the guard whose binds fail it is not restarted by Docker after the agent starts', async () => {
  const w = join(allowed, 'w');
  mkdirSync(join(w, 'sub'), { recursive: true });
  // This agent's app containers as a release made them before the guard existed.
  const labels = ['--label', 'berth.service=bindlegacy', '--label', 'berth.kind=app', '--label', 'berth.role=web', '--label', `berth.agent=${await agentId(e.hosts[0]!)}`];
  const run = (name: string, volume: string) =>
    dockerOk(engineHost(), ['run', '-d', '--name', name, '--restart', 'unless-stopped', ...labels, '-v', volume, e.image('v1')]);
  const names = [`bindlegacy-outer-${process.pid}`, `bindlegacy-inner-${process.pid}`, `bindlegacy-alone-${process.pid}`];
  try {
    await run(names[0]!, `${w}:/plant`);
    await run(names[1]!, `${w}/sub:/loot:ro`);
    await run(names[2]!, `${allowed}/alone:/alone`);
    await e.hosts[0]!.killAgent();
    await e.hosts[0]!.startAgent({ BERTH_ALLOW_BINDS: allowed });
    const policy = async (name: string) => (await dockerOk(engineHost(), ['inspect', '-f', '{{.HostConfig.RestartPolicy.Name}}', name])).trim();
    await waitFor('the nested containers disarmed', async () => (await policy(names[0]!)) === 'no' && (await policy(names[1]!)) === 'no', 20_000, { explain: () => e.hosts[0]!.agentLog() });
    assert.equal(await policy(names[2]!), 'unless-stopped', 'a container whose binds pass keeps its restart policy');
    assert.match(e.hosts[0]!.agentLog(), /a container will not be restarted by Docker: its bind mounts fail the guardrails today/);
    assert.deepEqual((await containersOf('bindlegacy')).map((l) => l.split(' ')[1]), ['running', 'running', 'running'], 'running containers keep running');
  } finally {
    await docker(engineHost(), ['rm', '-f', ...names]);
  }
});
