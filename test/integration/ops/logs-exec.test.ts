// Logs and exec against a real engine: what the agent's ops layer reads from
// and starts in Docker, with releases deployed by the real engine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ProcessSession } from '../../../agent/docker.js';
import { resolveExecTarget, startExec, type ExecDeps } from '../../../agent/ops/exec.js';
import { followLogs, logTargets, readLogs, type LogRecord } from '../../../agent/ops/logs.js';
import { containersByLabel, docker, dockerOk } from '../../support/docker-cli.js';
import { sealFor, startEngineFixture, type EngineFixture } from '../../support/engine-fixture.js';
import { waitFor } from '../../support/wait.js';

let f: EngineFixture;
let execDeps: ExecDeps;
const silent = { info() {}, warn() {}, error() {} };
let sealed = '';

before(async () => {
  f = await startEngineFixture('ops');
  sealed = await sealFor(f, 'pa55-w0rd-for-exec', { name: 'DB_PASSWORD' });
  const roles = { web: { env: { clear: { GREETING: 'hello' }, secret: { DB_PASSWORD: sealed } }, proxy: { hosts: [f.host], app_port: 80 } } };
  const d = await f.deploy(f.manifest('r1', await f.digestOf('v1'), { roles }));
  assert.equal(d.state, 'DONE', d.error ?? '');
  execDeps = {
    store: f.store,
    docker: f.docker,
    hostname: 'test-host-1',
    network: 'berth',
    sealingPrivateJwk: f.sealingPrivateJwk,
  };
});
after(async () => {
  await f?.close();
});

async function running(release: string) {
  const c = (await f.containers()).find((x) => x.labels['berth.release'] === release && x.state === 'running');
  assert.ok(c, `a running container of ${release}`);
  return c;
}

async function writeToApp(name: string, line: string, fd = 1): Promise<void> {
  await dockerOk(f.engineHost, ['exec', name, 'sh', '-c', `echo ${line} >/proc/1/fd/${fd}`]);
}

async function drain(session: ProcessSession): Promise<{ stdout: string; stderr: string; code: number | null }> {
  let stdout = '';
  let stderr = '';
  for await (const chunk of session.output) {
    if (chunk.stream === 'stdout') stdout += chunk.data.toString();
    else stderr += chunk.data.toString();
  }
  const code = await session.exitCode();
  await session.dispose();
  return { stdout, stderr, code };
}

test('readLogs: the last lines of the running container, with stream, role, release and time', async () => {
  const c = await running('r1');
  await writeToApp(c.name, 'marker-out-1');
  await writeToApp(c.name, 'marker-err-1', 2);
  const q = { service: f.service, destination: '', follow: false, tail: 100 };
  const targets = await logTargets(f.docker, q);
  assert.deepEqual(targets.map((t) => t.name), [c.name]);
  const records: LogRecord[] = [];
  await readLogs({ store: f.store, docker: f.docker, log: silent }, q, targets, async (r) => void records.push(r), new AbortController().signal);
  const out = records.find((r) => r.line === 'marker-out-1');
  const err = records.find((r) => r.line === 'marker-err-1');
  assert.ok(out && err, JSON.stringify(records));
  assert.equal(out.stream, 'stdout');
  assert.equal(err.stream, 'stderr');
  assert.equal(out.role, 'web');
  assert.equal(out.release, 'r1');
  assert.equal(out.container, c.name);
  assert.match(out.t, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

  const one: LogRecord[] = [];
  await readLogs({ store: f.store, docker: f.docker, log: silent }, { ...q, tail: 1 }, targets, async (r) => void one.push(r), new AbortController().signal);
  assert.equal(one.length, 1, 'tail bounds the lines per container');
});

test('followLogs: sees new lines, then the new container of a deploy from its first line', async () => {
  const q = { service: f.service, destination: '', follow: true, tail: 0 };
  const seen: LogRecord[] = [];
  const emit = async (r: LogRecord) => void seen.push(r);
  const line = (text: string) => waitFor(`log line ${text}`, () => seen.find((r) => r.line === text), 30_000);
  const controller = new AbortController();
  const targets = await logTargets(f.docker, q);
  const following = followLogs({ store: f.store, docker: f.docker, log: silent }, q, targets, emit, controller.signal);

  const c1 = await running('r1');
  await writeToApp(c1.name, 'follow-marker-1');
  assert.equal((await line('follow-marker-1')).release, 'r1');
  assert.equal(seen.some((r) => r.line === 'marker-out-1'), false, 'tail 0: no earlier lines');

  // A release whose app prints at start: that line must arrive although it was written before anyone asked.
  const m = f.manifest('r2', await f.digestOf('v2'), {
    roles: { web: { cmd: ['sh', '-c', 'echo booted-r2; exec /start.sh'], proxy: { hosts: [f.host], app_port: 80 } } },
  });
  const d = await f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  assert.equal((await line('booted-r2')).release, 'r2');
  const c2 = await running('r2');
  await writeToApp(c2.name, 'follow-marker-2');
  assert.equal((await line('follow-marker-2')).container, c2.name);

  controller.abort();
  await following;
  assert.equal(seen.filter((r) => r.line === 'booted-r2').length, 1, 'each line once');
});

test('exec in a new container: output by stream, exit code, labelled exec, removed after', async () => {
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['x'], reuse: false });
  assert.equal(target.release, 'r2');
  const before = (await f.containers()).length;
  const session = await startExec(execDeps, target, ['sh', '-c', 'echo hi; echo oops >&2; echo "$GREETING-$DB_PASSWORD-$BERTH_RELEASE"; exit 3'], { tty: false, stdin: false });
  const during = await containersByLabel(f.engineHost, `berth.service=${f.service}`);
  const execContainer = during.find((c) => c.labels['berth.kind'] === 'exec');
  assert.ok(execContainer, 'a container labelled berth.kind=exec');
  assert.equal(execContainer.labels['berth.spec'], undefined);
  const r = await drain(session);
  assert.equal(r.code, 3);
  assert.equal(r.stderr, 'oops\n');
  assert.equal(r.stdout, 'hi\n--r2\n', 'r2 has no env of its own; BERTH_RELEASE is set');
  assert.equal((await f.containers()).length, before, 'the exec container is gone');
});

test('exec: role env reaches the command (the roles of r2 carry no secret)', async () => {
  const m = f.manifest('r3', await f.digestOf('v1'), {
    roles: { web: { env: { clear: { GREETING: 'hello' }, secret: { DB_PASSWORD: sealed } }, proxy: { hosts: [f.host], app_port: 80 } } },
  });
  assert.equal((await f.deploy(m)).state, 'DONE');
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['x'], reuse: false });
  const r = await drain(await startExec(execDeps, target, ['sh', '-c', 'echo "$GREETING-$DB_PASSWORD-$BERTH_RELEASE"'], { tty: false, stdin: false }));
  assert.equal(r.stdout, 'hello-pa55-w0rd-for-exec-r3\n');
  assert.equal(r.code, 0);
});

test('exec --reuse runs in the running container', async () => {
  const c = await running('r3');
  await dockerOk(f.engineHost, ['exec', c.name, 'sh', '-c', 'echo made-by-hand >/reuse-proof']);
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['x'], reuse: true });
  assert.equal(target.containerId, c.id);
  const r = await drain(await startExec(execDeps, target, ['cat', '/reuse-proof'], { tty: false, stdin: false }));
  assert.deepEqual(r, { stdout: 'made-by-hand\n', stderr: '', code: 0 });
});

for (const reuse of [false, true]) {
  test(`interactive exec (${reuse ? 'reuse' : 'new container'}): stdin lines, EOF, exit code`, async () => {
    const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['sh'], reuse });
    const session = await startExec(execDeps, target, ['sh'], { tty: false, stdin: true });
    session.write(Buffer.from('echo hello\n'));
    session.write(Buffer.from('exit 4\n'));
    session.endInput();
    const r = await drain(session);
    assert.equal(r.stdout, 'hello\n');
    assert.equal(r.code, 4);
  });
}

test('interactive exec with a TTY: raw output, resize works', async () => {
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['sh'], reuse: false });
  const session = await startExec(execDeps, target, ['sh', '-c', 'stty size; read x; echo "got-$x"; exit 5'], { tty: true, stdin: true });
  await session.resize(100, 40).catch(() => undefined);
  session.write(Buffer.from('abc\n'));
  const r = await drain(session);
  assert.match(r.stdout, /got-abc/);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 5);
});

test('disposing a running exec container removes it', async () => {
  const target = await resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['sh'], reuse: false });
  const session = await startExec(execDeps, target, ['sleep', '300'], { tty: false, stdin: false });
  assert.equal((await containersByLabel(f.engineHost, 'berth.kind=exec')).filter((c) => c.labels['berth.service'] === f.service).length, 1);
  await session.dispose();
  for await (const _ of session.output) void _;
  assert.equal((await containersByLabel(f.engineHost, 'berth.kind=exec')).filter((c) => c.labels['berth.service'] === f.service).length, 0);
});

test('target errors: unknown role, not deployed, no running container to reuse', async () => {
  await assert.rejects(resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['x'], role: 'worker', reuse: false }), /role worker is not in release r3/);
  await assert.rejects(resolveExecTarget(execDeps, { service: 'never-deployed', destination: '', cmd: ['x'], reuse: false }), /has no current release/);
  const c = await running('r3');
  await docker(f.engineHost, ['stop', '-t', '1', c.name]);
  await assert.rejects(resolveExecTarget(execDeps, { service: f.service, destination: '', cmd: ['x'], reuse: true }), /no running web container of release r3/);
  await docker(f.engineHost, ['start', c.name]);
});

test('followLogs across a restart: the lines before it arrive once, the lines after it arrive', async () => {
  const c = await running('r3');
  const q = { service: f.service, destination: '', follow: true, tail: 0 };
  const seen: LogRecord[] = [];
  const emit = async (r: LogRecord) => void seen.push(r);
  const controller = new AbortController();
  const following = followLogs({ store: f.store, docker: f.docker, log: silent }, q, await logTargets(f.docker, q), emit, controller.signal);
  await writeToApp(c.name, 'before-restart');
  await waitFor('the line before the restart', () => seen.some((r) => r.line === 'before-restart'), 30_000);
  // Killed at once: its stream ends in the same second as the line above, the second a re-attach starts from.
  await dockerOk(f.engineHost, ['restart', '-t', '0', c.name]);
  await dockerOk(f.engineHost, ['exec', c.name, 'true']);
  // The agent re-attaches on its next look; a line written until then would be sent once it has.
  let i = 0;
  await waitFor('a line after the restart', async () => {
    await writeToApp(c.name, `after-restart-${i++}`);
    return seen.some((r) => r.line.startsWith('after-restart'));
  }, 30_000, { intervalMs: 200 });
  controller.abort();
  await following;
  assert.equal(seen.filter((r) => r.line === 'before-restart').length, 1, 'each line once');
});
