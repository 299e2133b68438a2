// The logs and exec routes without Docker: scopes, validation, what is refused
// before anything starts, the NDJSON answers and the audit row.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { buildApp } from '../../../agent/api/app.js';
import { createFailureLimiter } from '../../../agent/api/rate-limit.js';
import type { Upgrade } from '../../../agent/api/websocket.js';
import type { OpsDeps } from '../../../agent/api/context.js';
import { guardrailPolicy, type GuardrailPolicy } from '../../../agent/core/guardrails.js';
import type { ContainerInfo, DockerPort, OutputChunk, ProcessSession } from '../../../agent/docker.js';
import { ApiFixture, errorOf } from '../../support/agent-api.js';
import { generateOperatorKey, type OperatorKey } from '../../../shared/keys.js';
import { seal } from '../../../shared/sealing.js';
import { waitFor } from '../../support/wait.js';

const SECRET_VALUE = 'plain-secret-value-7f3a';

let fx: ApiFixture;
let app: ReturnType<typeof buildApp>;
let admin: OperatorKey;
const calls: string[] = [];
let containers: ContainerInfo[] = [];
let output: OutputChunk[] = [];
let exitCode: number | null = 0;
/** Log streams that stay open until the test ends them (follow). */
const openLogs: Readable[] = [];

function session(): ProcessSession {
  return {
    output: Readable.from(output),
    close: () => undefined,
    write: () => undefined,
    endInput: () => undefined,
    resize: async () => undefined,
    exitCode: async () => exitCode,
    dispose: async () => void calls.push('dispose'),
  };
}

const fakeDocker = {
  listContainers: async () => containers,
  async logs(id: string, o: { follow: boolean }) {
    calls.push(`logs ${id} ${o.follow ? 'follow' : 'read'}`);
    if (!o.follow) return { output: Readable.from([{ stream: 'stdout', data: Buffer.from('2024-05-01T10:00:00.123456789Z hello\n') }]), close: () => undefined };
    const r = new Readable({ objectMode: true, read() {} });
    openLogs.push(r);
    return { output: r, close: () => r.push(null) };
  },
  async exec(id: string, cmd: string[]) {
    calls.push(`exec ${id} ${cmd.join(' ')}`);
    return session();
  },
  async runAttached(spec: { name: string; cmd?: string[]; labels: Record<string, string>; env: Record<string, string> }) {
    calls.push(`run ${spec.labels['berth.kind']} ${spec.cmd?.join(' ')} ${spec.env.SECRET_TOKEN === SECRET_VALUE ? 'secret' : 'no-secret'}`);
    return session();
  },
} as unknown as DockerPort;

function container(role: string, release: string, running = true): ContainerInfo {
  return {
    id: `id-${role}-${release}`,
    name: `demo-${role}-${release}`,
    running,
    state: running ? 'running' : 'exited',
    exitCode: null,
    ip: null,
    labels: { 'berth.service': 'demo', 'berth.role': role, 'berth.release': release, 'berth.destination': '', 'berth.kind': 'app' },
    createdAt: Date.now(),
  };
}

before(async () => {
  fx = await ApiFixture.create();
  fx.trustAll();
  admin = fx.keyB;
  fx.trust(admin, 'admin');
  app = appWith(fakeDocker);
  // A current release with two roles: web (proxied) and worker.
  const res = await fx.postRelease(await fx.manifest({
    version: 'r1',
    roles: {
      web: { env: { clear: {}, secret: { SECRET_TOKEN: await seal(SECRET_VALUE, fx.identity.sealingPublicJwk, { use: 'env', service: 'demo', destination: '', role: 'web', name: 'SECRET_TOKEN' }) } }, proxy: { hosts: ['demo.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 } } },
      worker: { env: { clear: {}, secret: {} } },
    },
  }));
  assert.equal(res.status, 202);
  const { deploy } = (await res.json()) as { deploy: { id: number } };
  fx.store.setCurrent('demo', '', deploy.id);
});
after(() => {
  for (const r of openLogs) r.push(null);
  fx.cleanup();
});
beforeEach(() => {
  calls.length = 0;
  containers = [container('web', 'r1'), container('worker', 'r1')];
  output = [{ stream: 'stdout', data: Buffer.from('hi\n') }, { stream: 'stderr', data: Buffer.from('warn\n') }];
  exitCode = 3;
});

async function send(method: string, path: string, opts: { key?: OperatorKey; body?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const body = opts.body ?? '';
  const token = await fx.token(method, path, body, { key: opts.key ?? admin });
  const headers: Record<string, string> = { authorization: `Berth ${token}`, ...(opts.headers ?? {}) };
  if (body) headers['content-type'] = 'application/json';
  return app.request(path, { method, headers, ...(body ? { body } : {}) });
}

const execPath = '/v1/services/demo/exec?destination=';
const ndjson = async (res: Response) => (await res.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);

test('exec: a read or deploy key gets 403, nothing starts, nothing is audited', async () => {
  const auditBefore = fx.store.audit.list({ limit: 100 }).length;
  for (const key of [fx.keyRead, fx.keyA]) {
    const res = await send('POST', execPath, { key, body: JSON.stringify({ cmd: ['touch', '/pwned'] }) });
    const err = await errorOf(res);
    assert.equal(err.status, 403);
    assert.match(err.message, /this needs admin/);
    const ws = await send('GET', `/v1/services/demo/exec/ws?cmd=${encodeURIComponent('["sh"]')}`, { key, headers: { upgrade: 'websocket' } });
    assert.equal(ws.status, 403);
  }
  assert.deepEqual(calls, []);
  assert.equal(fx.store.audit.list({ limit: 100 }).length, auditBefore);
});

test('exec: malformed and oversized requests are refused with the field named; nothing starts', async () => {
  const cases: Array<[string, RegExp, number?]> = [
    ['{"cmd": ["ls"]', /not valid JSON/],
    ['"ls"', /invalid exec request/],
    ['{}', /cmd: /],
    ['{"cmd": []}', /cmd: cmd must name a command/],
    ['{"cmd": "ls -la"}', /cmd: /],
    [JSON.stringify({ cmd: Array.from({ length: 65 }, () => 'a') }), /at most 64 arguments/],
    [JSON.stringify({ cmd: ['echo', 'x'.repeat(4097)] }), /at most 4096 characters/],
    [JSON.stringify({ cmd: ['echo', 'a\u0000b'] }), /must not contain NUL/],
    [JSON.stringify({ cmd: ['ls'], env: { A: 'b' } }), /invalid exec request/],
    [JSON.stringify({ cmd: ['ls'], role: 'Web!' }), /role: /],
    [JSON.stringify({ cmd: ['ls'], reuse: 'yes' }), /reuse: /],
    [JSON.stringify({ cmd: ['ls'], role: 'nope' }), /role nope is not in release r1 of demo \(roles: web, worker\)/],
  ];
  for (const [body, message] of cases) {
    const err = await errorOf(await send('POST', execPath, { body }));
    assert.equal(err.status, 400, `${body.slice(0, 60)}: ${err.message}`);
    assert.match(err.message, message);
  }
  const huge = JSON.stringify({ cmd: ['echo', 'y'.repeat(300 * 1024)] });
  assert.equal((await send('POST', execPath, { body: huge })).status, 413);
  const badQuery = await errorOf(await send('POST', '/v1/services/demo/exec?destination=&shell=1', { body: '{"cmd":["ls"]}' }));
  assert.equal(badQuery.status, 400);
  assert.match(badQuery.message, /unknown query parameter "shell"/);
  assert.deepEqual(calls, []);
});

test('exec: a service never deployed here is 404; a reuse without a running container 409', async () => {
  const missing = await errorOf(await send('POST', '/v1/services/ghost/exec?destination=', { body: '{"cmd":["ls"]}' }));
  assert.equal(missing.status, 404);
  assert.match(missing.message, /service ghost has no current release/);
  containers = [container('web', 'r1', false)];
  const notRunning = await errorOf(await send('POST', execPath, { body: '{"cmd":["ls"],"reuse":true}' }));
  assert.equal(notRunning.status, 409);
  assert.match(notRunning.message, /no running web container of release r1/);
  assert.deepEqual(calls, []);
});

test('exec: output records then the exit code; a new exec container of the primary role; audited without env', async () => {
  const res = await send('POST', execPath, { body: JSON.stringify({ cmd: ['sh', '-c', 'echo hi; exit 3'] }) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  assert.deepEqual(await ndjson(res), [{ stream: 'stdout', data: 'hi\n' }, { stream: 'stderr', data: 'warn\n' }, { exit_code: 3 }]);
  assert.deepEqual(calls, ['run exec sh -c echo hi; exit 3 secret', 'dispose']);
  const [entry] = fx.store.audit.list({ service: 'demo', limit: 1 });
  assert.equal(entry?.action, 'exec');
  assert.equal(entry?.key_id, admin.kid);
  assert.deepEqual(entry?.detail, { role: 'web', release: 'r1', cmd: ['sh', '-c', 'echo hi; exit 3'], reuse: false, interactive: false, exit_code: 3 });
  assert.equal(JSON.stringify(fx.store.dump()).includes(SECRET_VALUE), false, 'no secret value is stored');
});

test('exec --reuse: docker exec in the running container of the chosen role', async () => {
  exitCode = 0;
  const res = await send('POST', execPath, { body: JSON.stringify({ cmd: ['cat', '/x'], role: 'worker', reuse: true }) });
  assert.deepEqual((await ndjson(res)).at(-1), { exit_code: 0 });
  assert.deepEqual(calls, ['exec id-worker-r1 cat /x', 'dispose']);
});

test('exec/ws: needs a WebSocket upgrade and a valid cmd; nothing starts', async () => {
  const cases: Array<[string, number, RegExp]> = [
    [`/v1/services/demo/exec/ws?cmd=${encodeURIComponent('["sh"]')}`, 426, /WebSocket only/],
    ['/v1/services/demo/exec/ws', 400, /cmd is required/],
    ['/v1/services/demo/exec/ws?cmd=sh', 400, /JSON array/],
    [`/v1/services/demo/exec/ws?cmd=${encodeURIComponent('[]')}`, 400, /must name a command/],
    [`/v1/services/demo/exec/ws?cmd=${encodeURIComponent('["sh"]')}&tty=maybe`, 400, /tty must be 1 or 0/],
  ];
  for (const [path, status, message] of cases) {
    const headers: Record<string, string> = status === 426 ? {} : { upgrade: 'websocket' };
    const err = await errorOf(await send('GET', path, { headers }));
    assert.equal(err.status, status, `${path}: ${err.message}`);
    assert.match(err.message, message);
  }
  assert.deepEqual(calls, []);
});

test('logs: read scope; records with the Docker time; junk options are 400; unknown service 404', async () => {
  const res = await send('GET', '/v1/services/demo/logs?destination=&role=web&tail=5', { key: fx.keyRead });
  assert.equal(res.status, 200);
  assert.deepEqual(await ndjson(res), [{ t: '2024-05-01T10:00:00.123Z', role: 'web', release: 'r1', container: 'demo-web-r1', stream: 'stdout', line: 'hello' }]);
  assert.deepEqual(calls, ['logs id-web-r1 read']);

  const bad: Array<[string, RegExp]> = [
    ['tail=-1', /tail must be a whole number/],
    ['tail=10001', /tail must be a whole number/],
    ['since=yesterday', /since "yesterday" is neither/],
    ['since=99999999999d', /neither a duration/],
    ['follow=maybe', /follow must be 1 or 0/],
    ['role=WEB', /role "WEB" is not valid/],
    ['grep=x', /unknown query parameter "grep"/],
  ];
  for (const [query, message] of bad) {
    const err = await errorOf(await send('GET', `/v1/services/demo/logs?${query}`, { key: fx.keyRead }));
    assert.equal(err.status, 400, query);
    assert.match(err.message, message);
  }
  assert.equal((await send('GET', '/v1/services/ghost/logs', { key: fx.keyRead })).status, 404);
});

test('logs, exec and exec/ws: a repeated destination is 400 and nothing starts', async () => {
  const audited = fx.store.audit.list({ limit: 1000 }).length;
  const cases: Array<[string, string, { key?: OperatorKey; body?: string; headers?: Record<string, string> }]> = [
    ['GET', '/v1/services/demo/logs?destination=&destination=staging', { key: fx.keyRead }],
    ['POST', '/v1/services/demo/exec?destination=staging&destination=', { body: '{"cmd":["ls"]}' }],
    ['GET', `/v1/services/demo/exec/ws?destination=&destination=&cmd=${encodeURIComponent('["sh"]')}`, { headers: { upgrade: 'websocket' } }],
  ];
  for (const [method, path, opts] of cases) {
    const err = await errorOf(await send(method, path, opts));
    assert.equal(err.status, 400, `${method} ${path}: ${err.message}`);
    assert.match(err.message, /query parameter "destination" is given 2 times/);
  }
  assert.deepEqual(calls, []);
  assert.equal(fx.store.audit.list({ limit: 1000 }).length, audited);
});

/** `n` more read keys, trusted: the per-key cap lets one key hold 8 streams. */
async function readKeys(n: number): Promise<OperatorKey[]> {
  const keys = await Promise.all(Array.from({ length: n }, (_, i) => generateOperatorKey(`reader${i}@test`)));
  for (const k of keys) fx.trust(k, 'read');
  return keys;
}

test('logs -f: at most 32 open streams per agent, then 429; a closed stream frees its place', async () => {
  containers = [container('web', 'r1')];
  const keys = await readKeys(5);
  const open: Response[] = [];
  for (let i = 0; i < 32; i++) {
    const res = await send('GET', '/v1/services/demo/logs?follow=1', { key: keys[i % 4]! });
    assert.equal(res.status, 200);
    open.push(res);
  }
  const refused = await errorOf(await send('GET', '/v1/services/demo/logs?follow=1', { key: keys[4]! }));
  assert.equal(refused.status, 429);
  assert.equal(refused.code, 'too_many_log_streams');
  assert.match(refused.message, /too many open log streams on this agent \(32\)/);
  for (const r of open) await r.body?.cancel();
  // The streams wind down asynchronously; a new one is accepted once one has.
  const status = await waitFor('a new log stream to be accepted', async () => {
    const res = await send('GET', '/v1/services/demo/logs?follow=1', { key: keys[4]! });
    await res.body?.cancel();
    return res.status === 429 ? undefined : res.status;
  }, 10_000, { intervalMs: 50 });
  assert.equal(status, 200);
});

test('logs: one key holds at most 8 streams, then 429 naming the limit; another key still gets one', async () => {
  containers = [container('web', 'r1')];
  const [mine, other] = await readKeys(2);
  const open: Response[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await send('GET', '/v1/services/demo/logs?follow=1', { key: mine! });
    assert.equal(res.status, 200);
    open.push(res);
  }
  const refused = await errorOf(await send('GET', '/v1/services/demo/logs?follow=1', { key: mine! }));
  assert.equal(refused.status, 429);
  assert.equal(refused.code, 'too_many_log_streams');
  assert.match(refused.message, /too many open log streams for this key \(8 per key\)/);
  const theirs = await send('GET', '/v1/services/demo/logs?follow=1', { key: other! });
  assert.equal(theirs.status, 200);
  open.push(theirs);
  for (const r of open) await r.body?.cancel();
});

test('logs: a client that stops reading loses its streams after the stall bound, and its slots come back', async () => {
  containers = [container('web', 'r1')];
  const [reader] = await readKeys(1);
  const line = (i: number) => ({ stream: 'stdout', data: Buffer.from(`2024-05-01T10:00:0${i % 10}.000000000Z ${'x'.repeat(1000)}\n`) });
  const chatty = {
    ...fakeDocker,
    // A follow that always has more to say than the client reads.
    logs: async () => ({ output: Readable.from((function* () { for (let i = 0; ; i++) yield line(i); })()), close: () => undefined }),
  } as DockerPort;
  const stalling = appWith(chatty, undefined, undefined, { streamStallMs: 300 });
  const path = '/v1/services/demo/logs?follow=1';
  const held: Response[] = [];
  for (let i = 0; i < 8; i++) {
    const res = await sendTo(stalling, path, reader!);
    assert.equal(res.status, 200);
    held.push(res); // never read
  }
  assert.equal((await sendTo(stalling, path, reader!)).status, 429, 'all 8 slots are held while the writes wait');
  const again = await waitFor('a slot freed by the stall bound', async () => {
    const res = await sendTo(stalling, path, reader!);
    if (res.status === 200) return res;
    await res.body?.cancel();
    return undefined;
  }, 10_000, { intervalMs: 100 });
  await again.body?.cancel();
  for (const r of held) await r.body?.cancel().catch(() => undefined);
});

test('logs -f: the stream ends when its key is no longer trusted', async () => {
  const temp = await generateOperatorKey('temp@test');
  fx.trust(temp, 'read');
  containers = [container('web', 'r1')];
  const res = await send('GET', '/v1/services/demo/logs?follow=1', { key: temp });
  assert.equal(res.status, 200);
  fx.store.keys.remove(temp.kid);
  // Resolves only once the agent ends the stream.
  assert.equal((await res.text()).trim(), '');
});

/** Another agent over the same store: its own Docker, its own WebSocket upgrade, its own counters. */
function appWith(docker: Partial<DockerPort>, upgradeWebSocket?: Upgrade, guardrails?: GuardrailPolicy, ops: Partial<OpsDeps> = {}): ReturnType<typeof buildApp> {
  const d = docker as DockerPort;
  return buildApp({
    store: fx.store,
    identity: fx.identity,
    log: { info() {}, warn() {}, error() {} },
    engine: { run: async () => undefined, setMaintenance: async () => { throw new Error('not used'); }, setPause: async () => { throw new Error('not used'); }, removeService: async () => { throw new Error('not used'); } },
    docker: d,
    authLimiter: createFailureLimiter({ max: 10_000, windowMs: 60_000 }),
    ops: { docker: d, hostname: 'host-1', network: 'berth', ...ops },
    ...(upgradeWebSocket ? { upgradeWebSocket } : {}),
    ...(guardrails ? { guardrails } : {}),
  });
}

test('exec under a policy tightened since the release: the role that breaks it is refused and nothing runs; another role still runs', async () => {
  const res = await fx.postRelease(await fx.manifest({
    service: 'tight',
    sub: 'tight',
    version: 't1',
    roles: {
      web: { env: { clear: {}, secret: {} }, proxy: { hosts: ['tight.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 } } },
      worker: { env: { clear: {}, secret: {} }, volumes: ['/data/tight:/data'] },
    },
  }));
  assert.equal(res.status, 202, await res.clone().text());
  const { deploy } = (await res.json()) as { deploy: { id: number } };
  fx.store.setCurrent('tight', '', deploy.id);
  const tightened = appWith(fakeDocker, undefined, guardrailPolicy({ allowBinds: [] }));
  const exec = async (role: string) => {
    const path = '/v1/services/tight/exec?destination=';
    const body = JSON.stringify({ cmd: ['true'], role });
    const token = await fx.token('POST', path, body, { key: admin });
    return tightened.request(path, { method: 'POST', headers: { authorization: `Berth ${token}`, 'content-type': 'application/json' }, body });
  };

  const refused = await errorOf(await exec('worker'));
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 'guardrail_refused');
  assert.match(refused.message, /^role worker: volume "\/data\/tight:\/data" is refused by this agent.s guardrails/);
  assert.equal(calls.length, 0, 'nothing ran');

  const ok = await exec('web');
  assert.equal(ok.status, 200);
  assert.deepEqual((await ndjson(ok)).at(-1), { exit_code: 3 });
  assert.ok(calls.includes('run exec true no-secret'), calls.join('\n'));
});

async function sendTo(to: ReturnType<typeof buildApp>, path: string, key: OperatorKey, headers: Record<string, string> = {}): Promise<Response> {
  const token = await fx.token('GET', path, '', { key });
  return to.request(path, { method: 'GET', headers: { authorization: `Berth ${token}`, ...headers } });
}

const wsPath = `/v1/services/demo/exec/ws?cmd=${encodeURIComponent('["sh"]')}`;

test('logs -f: requests arriving together cannot pass the 32-stream cap while containers are listed', async () => {
  let listed = 0;
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  const streams: Readable[] = [];
  const other = appWith({
    async listContainers() {
      listed++;
      await answered;
      return [container('web', 'r1')];
    },
    async logs() {
      const r = new Readable({ objectMode: true, read() {} });
      streams.push(r);
      return { output: r, close: () => r.push(null) };
    },
  });
  let settled = 0;
  const keys = await readKeys(5);
  const requests = Array.from({ length: 40 }, (_, i) => sendTo(other, '/v1/services/demo/logs?follow=1', keys[i % 5]!).finally(() => settled++));
  while (listed + settled < 40) await new Promise((r) => setImmediate(r));
  answer();
  const responses = await Promise.all(requests);
  assert.equal(responses.filter((r) => r.status === 200).length, 32);
  assert.equal(responses.filter((r) => r.status === 429).length, 8);
  for (const r of responses) await r.body?.cancel();
  for (const r of streams) r.push(null);
});

test('exec/ws: upgrades that never open hold no place; 16 open sessions do, then 429', async () => {
  // The app agreed, but the socket never opened (a bad Sec-WebSocket-Key, a client gone).
  const neverOpens: Upgrade = async () => new Response(null);
  const sessions: Readable[] = [];
  const docker = {
    listContainers: async () => containers,
    async runAttached() {
      const out = new Readable({ objectMode: true, read() {} });
      sessions.push(out);
      return { ...session(), output: out, dispose: async () => void out.push(null) };
    },
  };
  const refused = appWith(docker, neverOpens);
  for (let i = 0; i < 20; i++) assert.equal((await sendTo(refused, wsPath, admin, { upgrade: 'websocket' })).status, 200, `upgrade ${i + 1}`);

  const ended: Array<Promise<void>> = [];
  const opens: Upgrade = async (_c, h) => {
    let close!: () => void;
    ended.push(new Promise((r) => (close = r)));
    h.onOpen({ send: () => undefined, close: () => close(), bufferedAmount: () => 0, drained: async () => undefined });
    return new Response(null);
  };
  const open = appWith(docker, opens);
  for (let i = 0; i < 16; i++) assert.equal((await sendTo(open, wsPath, admin, { upgrade: 'websocket' })).status, 200);
  while (sessions.length < 16) await new Promise((r) => setImmediate(r));
  const full = await errorOf(await sendTo(open, wsPath, admin, { upgrade: 'websocket' }));
  assert.equal(full.status, 429);
  assert.match(full.message, /too many commands running/);
  for (const s of sessions) s.push(null);
  await Promise.all(ended);
});

test('exec/ws: a command that never started is not audited and its error is generic; one that ran is, with its exit code', async () => {
  let fail = true;
  const frames: string[] = [];
  let closed!: () => void;
  let whenClosed = new Promise<void>((r) => (closed = r));
  const docker = {
    listContainers: async () => containers,
    async runAttached() {
      if (fail) throw new Error('(HTTP code 500) create failed: /var/lib/docker/secret-path');
      return session();
    },
  };
  const opens: Upgrade = async (_c, h) => {
    h.onOpen({ send: (d) => void (typeof d === 'string' && frames.push(d)), close: () => closed(), bufferedAmount: () => 0, drained: async () => undefined });
    return new Response(null);
  };
  const other = appWith(docker, opens);
  const auditBefore = fx.store.audit.list({ limit: 1000 }).length;
  assert.equal((await sendTo(other, wsPath, admin, { upgrade: 'websocket' })).status, 200);
  await whenClosed;
  assert.deepEqual(JSON.parse(frames[0] ?? ''), { type: 'error', message: 'the command could not be started; see the agent log' });
  assert.equal(fx.store.audit.list({ limit: 1000 }).length, auditBefore, 'nothing ran: nothing audited');

  fail = false;
  exitCode = 7;
  whenClosed = new Promise<void>((r) => (closed = r));
  assert.equal((await sendTo(other, wsPath, admin, { upgrade: 'websocket' })).status, 200);
  await whenClosed;
  assert.deepEqual(JSON.parse(frames.at(-1) ?? ''), { type: 'exit', code: 7 });
  const [entry] = fx.store.audit.list({ service: 'demo', limit: 1 });
  assert.equal(entry?.action, 'exec');
  assert.deepEqual(entry?.detail, { role: 'web', release: 'r1', cmd: ['sh'], reuse: false, interactive: true, exit_code: 7 });
});
