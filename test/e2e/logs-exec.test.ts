// deploy logs and deploy exec against two real servers (two agents, two Docker
// engines): lines written by the app after the command started, following
// across a deploy, commands with their output and exit codes, --reuse, -i over
// the WebSocket, and a key without admin scope that gets nothing run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI_BIN } from '../support/berth-host.js';
import { spawnProcess, type SpawnedProcess } from '../support/processes.js';
import { containersByLabel, docker, dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { testEnv } from '../support/env.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
before(async () => {
  const env = testEnv();
  e = await setupApp('logsexec', { ips: ['127.0.0.2', '127.0.0.3'], engines: [env.engines[0]!, env.engines[1]!] });
  for (const h of e.hosts) await h.trust(e.keyLine, 'admin');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => {
  await e?.teardown();
});

/** The running app container of a release on a host. */
async function appContainer(hostIndex: number, release: string) {
  const h = e.hosts[hostIndex]!;
  const c = (await e.containers(h.engine)).find((x) => x.labels['berth.release'] === release && x.labels['berth.kind'] === 'app' && x.state === 'running');
  assert.ok(c, `a running ${release} container on ${h.server}`);
  return { engine: h.engine.host, name: c.name };
}

/** Writes a line to the app's own stdout, as if the app had printed it. */
async function appPrints(hostIndex: number, release: string, line: string): Promise<void> {
  const c = await appContainer(hostIndex, release);
  await dockerOk(c.engine, ['exec', c.name, 'sh', '-c', `echo ${line} >/proc/1/fd/1`]);
}

/** The CLI as a long-running process whose output the test watches as it comes. */
function startCli(args: string[], opts: { input?: string; keyFile?: string } = {}): SpawnedProcess {
  return spawnProcess(process.execPath, [CLI_BIN, ...args], {
    cwd: e.app.dir,
    env: { BERTH_KEY: opts.keyFile ?? e.app.keyFile, NO_COLOR: '1' },
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}

test('logs -n: the last lines from every server, each prefixed by its host', async () => {
  await appPrints(0, 'r1', 'tail-marker-a');
  await appPrints(1, 'r1', 'tail-marker-b');
  const r = await e.app.run(['logs', '-n', '5']);
  assert.equal(r.code, 0, explain(r, e));
  assert.match(r.stdout, new RegExp(`^${e.hosts[0]!.server.replace(/\./g, '\\.')} \\| tail-marker-a$`, 'm'));
  assert.match(r.stdout, new RegExp(`^${e.hosts[1]!.server.replace(/\./g, '\\.')} \\| tail-marker-b$`, 'm'));

  const grep = await e.app.run(['logs', '-n', '5', '--grep', 'marker-b$', '--json']);
  assert.equal(grep.code, 0, explain(grep, e));
  const records = grep.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(records.map((x) => [x.host, x.line, x.stream, x.role, x.release]), [[e.hosts[1]!.server, 'tail-marker-b', 'stdout', 'web', 'r1']]);
});

test('logs: bad options are usage errors', async () => {
  const bad = await e.app.run(['logs', '--grep', '(']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--grep "\(" is not a valid regular expression/);
  const since = await e.app.run(['logs', '--since', 'yesterday']);
  assert.equal(since.code, 1);
  assert.match(since.stderr, /since "yesterday" is neither a duration/);
});

test('logs -f sees lines written after it started, and the new container after a deploy', async () => {
  await appPrints(0, 'r1', 'ready-before-follow');
  const follow = startCli(['logs', '-f', '-n', '1']);
  try {
    // Tail 1 shows the line above once the stream is attached; anything written now is new.
    await follow.waitForLine(/ready-before-follow/);
    await appPrints(0, 'r1', 'marker-XYZ-after-start');
    await follow.waitForLine(/\| marker-XYZ-after-start$/);

    e.configure('v2');
    const push = await e.push('r2');
    assert.equal(push.code, 0, explain(push, e));
    await appPrints(0, 'r2', 'marker-from-r2');
    await appPrints(1, 'r2', 'marker-from-r2-b');
    await follow.waitForLine(/r2 \| marker-from-r2$/);
    await follow.waitForLine(/r2 \| marker-from-r2-b$/);
    assert.ok(follow.running(), 'still following');
  } finally {
    follow.child.kill('SIGTERM');
    await follow.exited;
  }
});

test('exec runs in a new container on every server; one server: its output and exit code', async () => {
  const one = await e.app.run(['exec', '--host', e.hosts[0]!.server, '--', 'sh', '-c', 'echo hi; echo warn >&2; exit 3']);
  assert.equal(one.code, 3, explain(one, e));
  assert.equal(one.stdout, 'hi\n');
  assert.equal(one.stderr, 'warn\n');

  const both = await e.app.run(['exec', '--', 'sh', '-c', 'echo "hi from $BERTH_RELEASE"']);
  assert.equal(both.code, 0, explain(both, e));
  for (const h of e.hosts) assert.match(both.stdout, new RegExp(`^${h.server.replace(/\./g, '\\.')} \\| hi from r2$`, 'm'));
  for (const h of e.hosts) {
    assert.deepEqual((await containersByLabel(h.engine.host, 'berth.kind=exec')).filter((c) => c.labels['berth.service'] === e.service), [], 'exec containers are removed');
  }
});

test('exec --reuse runs in the running container; without it a fresh one does not see its files', async () => {
  const c = await appContainer(0, 'r2');
  await dockerOk(c.engine, ['exec', c.name, 'sh', '-c', 'echo proof-of-reuse >/reuse-proof']);
  const reused = await e.app.run(['exec', '--reuse', '--host', e.hosts[0]!.server, '--', 'cat', '/reuse-proof']);
  assert.equal(reused.code, 0, explain(reused, e));
  assert.equal(reused.stdout, 'proof-of-reuse\n');
  const fresh = await e.app.run(['exec', '--host', e.hosts[0]!.server, '--', 'cat', '/reuse-proof']);
  assert.equal(fresh.code, 1);
  assert.match(fresh.stderr, /No such file/);
});

test('exec -i over the WebSocket: piped stdin, output, the remote exit code', async () => {
  const r = startCli(['exec', '-i', '--', 'sh'], { input: 'echo hello\nexit 4\n' });
  const { code } = await r.exited;
  assert.equal(code, 4, `${r.stdout()}\n${r.stderr()}`);
  assert.equal(r.stdout(), 'hello\n');

  const reuse = startCli(['exec', '-i', '--reuse', '--', 'sh'], { input: 'cat /reuse-proof; exit 0\n' });
  assert.equal((await reuse.exited).code, 0, reuse.stderr());
  assert.equal(reuse.stdout(), 'proof-of-reuse\n');
});

test('a key without admin scope: exec and exec -i get 403 and nothing runs', async () => {
  const deployKey = join(e.app.dir, '.deploy-only.jwk');
  const made = await e.app.run(['keys', 'new', '--comment', 'deployer@test'], { keyFile: deployKey });
  assert.equal(made.code, 0, made.stderr);
  for (const h of e.hosts) await h.trust(made.stdout.trim(), 'deploy');
  const containersBefore = (await e.containers()).map((c) => c.name).sort();

  const r = await e.app.run(['exec', '--reuse', '--host', e.hosts[0]!.server, '--', 'sh', '-c', 'echo pwned >/pwned'], { keyFile: deployKey });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /has scope deploy; this needs admin/);
  const i = startCli(['exec', '-i', '--reuse', '--', 'sh'], { input: 'echo pwned >/pwned\n', keyFile: deployKey });
  assert.equal((await i.exited).code, 1);
  assert.match(i.stderr(), /has scope deploy; this needs admin/);

  const c = await appContainer(0, 'r2');
  const probe = await docker(c.engine, ['exec', c.name, 'cat', '/pwned']);
  assert.notEqual(probe.code, 0, 'the command never ran');
  assert.deepEqual((await e.containers()).map((x) => x.name).sort(), containersBefore, 'no container was started');
});

test('a client that goes away: the exec container it started is removed', async () => {
  const engine = e.hosts[0]!.engine.host;
  const execContainers = async () => (await containersByLabel(engine, 'berth.kind=exec')).filter((c) => c.labels['berth.service'] === e.service);
  for (const interactive of [false, true]) {
    const args = interactive ? ['exec', '-i', '--', 'sh', '-c', 'echo started; sleep 300'] : ['exec', '--host', e.hosts[0]!.server, '--', 'sh', '-c', 'echo started; sleep 300'];
    const r = startCli(args, { input: '' });
    await r.waitForLine(/started/);
    assert.equal((await execContainers()).length, 1, 'the command runs in its own container');
    r.child.kill('SIGKILL');
    await r.exited;
    // The agent notices the closed connection and removes the container; poll until it has.
    await waitFor(`${interactive ? '-i' : 'plain'}: no exec container left behind`, async () => (await execContainers()).length === 0, 30_000, {
      intervalMs: 100,
      explain: () => e.hosts[0]!.agentLog(),
    });
  }
});

test('exec -i on a terminal: the remote command gets a TTY; its exit code comes back', async () => {
  // `script` gives the CLI a pseudo-terminal, as a person at a terminal would have.
  const inner = `'${process.execPath}' '${CLI_BIN}' exec -i -- sh -c 'test -t 0 && echo remote-has-a-tty; read line; echo "got-$line"; exit 6'`;
  const child = spawn('script', ['-qfec', inner, '/dev/null'], {
    cwd: e.app.dir,
    env: { ...process.env, BERTH_KEY: e.app.keyFile, NO_COLOR: '1', SHELL: '/bin/sh' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let typed = false;
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (/remote-has-a-tty/.test(out) && !typed) {
      typed = true;
      child.stdin!.write('abc\r');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.match(out, /remote-has-a-tty/);
  assert.match(out, /got-abc/);
  assert.equal(code, 6, out);
});
