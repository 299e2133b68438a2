// The deploy engine end to end on one host: real engine, registry and router.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { removeImage } from '../../support/docker-cli.js';
import type { DockerPort } from '../../../agent/docker.js';
import { startEngineFixture, sealFor, type EngineFixture } from '../../support/engine-fixture.js';
import { waitFor } from '../../support/wait.js';

let f: EngineFixture;
before(async () => {
  f = await startEngineFixture('eng');
});
after(async () => {
  await f?.close();
});

let sealedSecret = '';
const r3Roles = () => ({
  web: { env: { clear: { GREETING: 'hello' }, secret: { DB_PASSWORD: sealedSecret } }, proxy: { hosts: [f.host], app_port: 80 } },
});
const running = async () => (await f.containers()).filter((c) => c.state === 'running');

test('deploy v1 then v2: the router answers v1 then v2; v1 is stopped and retained', async () => {
  // Earlier suites may have pulled v1 into this engine; the pull is part of what this test watches.
  const v1Image = await f.digestOf('v1');
  await removeImage(f.engineHost, v1Image);
  const v1 = await f.deploy(f.manifest('r1', v1Image));
  assert.equal(v1.state, 'DONE', v1.error ?? '');
  assert.deepEqual(
    [...new Set(f.states(v1.id))],
    ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE'],
  );
  assert.ok(f.store.events(v1.id).some((e) => e.progress === 100), 'pull progress reached 100 %');
  assert.equal((await f.get()).body, 'v1\n');
  assert.equal(f.store.current(f.service, '')?.version, 'r1');

  const v2 = await f.deploy(f.manifest('r2', await f.digestOf('v2')));
  assert.equal(v2.state, 'DONE', v2.error ?? '');
  assert.equal((await f.get()).body, 'v2\n');
  const all = await f.containers();
  const old = all.find((c) => c.labels['berth.release'] === 'r1');
  assert.equal(old?.state, 'exited', 'v1 stopped but kept');
  assert.deepEqual((await running()).map((c) => c.name), [f.containerName('r2')]);
  const ip = (await running())[0]!.ips.berth;
  assert.deepEqual(f.store.routes.all().map((r) => r.target), [`${ip}:80`]);
  assert.equal(f.router.version(), f.store.routes.version(), 'router serves the stored version');
});

test('a failing health check reverts: message names the check, old still routed, new container gone', async () => {
  const before = f.store.routes.all();
  const d = await f.deploy(f.manifest('bad', await f.digestOf('unhealthy'), { deploy_timeout: 3 }));
  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', /^health check GET \/up on port 80 did not return 2xx within 3s \(last: HTTP 500\)$/);
  assert.deepEqual([...new Set(f.states(d.id))].slice(-2), ['FAILED', 'REVERTED']);
  assert.equal((await f.get()).body, 'v2\n');
  assert.deepEqual(f.store.routes.all(), before);
  assert.equal((await f.containers()).filter((c) => c.labels['berth.release'] === 'bad').length, 0);
  assert.equal(f.store.current(f.service, '')?.version, 'r2');
});

test('a container that exits while starting fails fast with its exit code and last log lines', async () => {
  const image = await f.digestOf('v1');
  const m = f.manifest('crash', image, {
    roles: {
      web: {
        cmd: ['/bin/busybox', 'sh', '-c', 'echo boom-before-exit; exit 3'],
        proxy: { hosts: [f.host], app_port: 80 },
      },
    },
  });
  const started = Date.now();
  const d = await f.deploy(m);
  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', /container .*-web-crash-\w{6} exited with code 3 before it became healthy; last log lines:\nboom-before-exit/);
  assert.ok(Date.now() - started < 20_000, 'did not wait for the deploy timeout');
  assert.equal((await f.get()).body, 'v2\n');
  assert.equal((await f.containers()).filter((c) => c.labels['berth.release'] === 'crash').length, 0);
});

test('a container seen exited at launch and running again at the next look is reported as exited, with its code and logs', async () => {
  // The timing a loaded machine produces, made certain: the agent's first look
  // at the new container lands while Docker waits to restart it (no address),
  // the next one while Docker's restart policy runs it again.
  const seen = new Map<string, number>();
  const timed = (docker: DockerPort): DockerPort => ({
    ...docker,
    async inspect(idOrName) {
      const look = (seen.get(idOrName) ?? 0) + 1;
      seen.set(idOrName, look);
      const crashing = (await docker.inspect(idOrName))?.labels['berth.release'] === 'crash2';
      if (!crashing || look > 2) return docker.inspect(idOrName);
      return waitFor(`crash2 ${look === 1 ? 'down' : 'up again'}`, async () => {
        const now = await docker.inspect(idOrName);
        return now && now.running === (look === 2) ? now : undefined;
      }, 20_000, { intervalMs: 10 });
    },
  });
  const engine = f.restartEngine({}, (deps) => ({ docker: timed(deps.docker) }));
  const d = f.accept(f.manifest('crash2', await f.digestOf('v1'), {
    roles: { web: { cmd: ['/bin/busybox', 'sh', '-c', 'echo boom-before-exit; sleep 0.3; exit 3'], proxy: { hosts: [f.host], app_port: 80 } } },
  }));
  await engine.run(d.id);
  const end = f.store.getDeploy(d.id)!;
  assert.equal(end.state, 'REVERTED');
  assert.match(end.error ?? '', /^container .*-web-crash2-\w{6} exited with code 3 before it became healthy; last log lines:\nboom-before-exit/);
  assert.equal((await f.get()).body, 'v2\n');
  assert.equal((await f.containers()).filter((c) => c.labels['berth.release'] === 'crash2').length, 0);
});

test('secrets reach the container environment unsealed, never its labels', async () => {
  const secret = 'hunter2-top-secret';
  sealedSecret = await sealFor(f, secret, { name: 'DB_PASSWORD' });
  const m = f.manifest('r3', await f.digestOf('v3'), { roles: r3Roles() });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal((await f.get('/cgi-bin/env?DB_PASSWORD')).body.trim(), secret);
  assert.equal((await f.get('/cgi-bin/env?BERTH_RELEASE')).body.trim(), 'r3');
  assert.equal((await f.get('/cgi-bin/env?KAMAL_CONTAINER_NAME')).body.trim(), f.containerName('r3'));
  const c = (await running())[0]!;
  assert.ok(!JSON.stringify(c.labels).includes(secret));
  assert.ok(!JSON.stringify(f.store.events(d.id)).includes(secret), 'not in events');
});

test('a secret sealed to another key fails the deploy before any container exists', async () => {
  const m = f.manifest('r4', await f.digestOf('v1'), {
    roles: {
      web: {
        env: { clear: {}, secret: { TOKEN: 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.Y3Q.dGFndGFndGFndGFndGFn' } },
        proxy: { hosts: [f.host], app_port: 80 },
      },
    },
  });
  const d = await f.deploy(m);
  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', /secret TOKEN of role web could not be unsealed/);
  assert.equal((await f.containers()).filter((c) => c.labels['berth.release'] === 'r4').length, 0);
  assert.equal((await f.get()).body, 'v3\n');
});

test('retention: only retain_containers stopped containers stay, the newest ones', async () => {
  // Stopped now: r1, r2. Deploying r5 with retain 1 stops r3 and keeps only it.
  const d = await f.deploy(f.manifest('r5', await f.digestOf('v1'), { retain_containers: 1 }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal((await f.get()).body, 'v1\n');
  const byRelease = Object.fromEntries((await f.containers()).map((c) => [c.labels['berth.release'], c.state]));
  assert.deepEqual(byRelease, { r5: 'running', r3: 'exited' });
});

test('rollback to a retained container starts it again without a new container', async () => {
  const [r3] = (await f.containers()).filter((c) => c.labels['berth.release'] === 'r3');
  assert.ok(r3);
  // The same release re-signed (same image, same env and sealed values) reuses the retained container.
  const m = f.manifest('r3', await f.digestOf('v3'), { roles: r3Roles() });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal((await f.get()).body, 'v3\n');
  const r3After = (await f.containers()).filter((c) => c.labels['berth.release'] === 'r3');
  assert.deepEqual(r3After.map((c) => [c.id, c.state]), [[r3.id, 'running']]);
  assert.ok(f.store.events(d.id).some((e) => /started retained container/.test(e.message)));
  assert.equal((await f.containers()).find((c) => c.labels['berth.release'] === 'r5')?.state, 'exited');
});

test('redeploying the serving release keeps serving from the same container', async () => {
  const before = (await running())[0]!;
  const m = f.manifest('r3', await f.digestOf('v3'), { roles: r3Roles() });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.ok(f.store.events(d.id).some((e) => /reusing running container/.test(e.message)));
  const after = await running();
  assert.deepEqual(after.map((c) => c.id), [before.id]);
  assert.equal((await f.get()).body, 'v3\n');
});

test('redeploying the serving release with a different env is refused before anything changes', async () => {
  const before = await f.containers();
  const routes = f.store.routes.all();
  const roles = r3Roles();
  const m = f.manifest('r3', await f.digestOf('v3'), { roles: { web: { ...roles.web, env: { ...roles.web.env, clear: { GREETING: 'changed' } } } } });
  const d = await f.deploy(m);
  assert.equal(d.state, 'REVERTED');
  assert.equal(
    d.error,
    'release r3 is already running with a different configuration (env, cmd, labels, volumes, logging or options); push it under a new version',
  );
  assert.deepEqual(
    (await f.containers()).map((c) => [c.id, c.state]),
    before.map((c) => [c.id, c.state]),
  );
  assert.deepEqual(f.store.routes.all(), routes);
  assert.equal((await f.get('/cgi-bin/env?GREETING')).body.trim(), 'hello');
});
