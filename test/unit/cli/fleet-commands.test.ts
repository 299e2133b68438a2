// deploy lock / audit / remove / details / status against two local fake
// agents (real HTTPS, pinned), one of which disagrees: per-host outcomes,
// exit codes, output, and nothing sent when the command line is wrong.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mergeAudit, renderAuditTable, renderDetail } from '../../../cli/actions/audit.js';
import { renderDetailsBlock } from '../../../cli/actions/details.js';
import { runRemove } from '../../../cli/actions/remove.js';
import { renderStatusTable, type ServiceView } from '../../../cli/actions/status.js';
import { hostsFailure } from '../../../cli/rollout/hosts.js';
import { createPrinter } from '../../../cli/output/printer.js';
import { plainStyle } from '../../../cli/output/style.js';
import type { AuditEntry, DeployState, OperatorLock } from '../../../shared/api-types.js';
import { ConflictError, UpstreamError } from '../../../shared/errors.js';
import type { LastDeploy } from '../../../shared/service-detail.js';
import { captureStream, cliRunner, tempDir, testEnv, type FakeAgent, type RecordedRequest, startAgentPair } from '../../support/cli-fixtures.js';

const LOCK: OperatorLock = { service: 'demo', destination: '', key_id: 'K'.repeat(43), key_comment: 'alice@laptop', message: 'db migration', since: '2026-11-22T10:00:00.000Z' };

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function entry(id: number, at: string, action: string, detail: Record<string, unknown> = {}): AuditEntry {
  return { id, at, key_id: id % 2 ? 'K'.repeat(43) : 'agent', action, service: 'demo', destination: '', detail };
}

/** Agent A holds nothing special; agent B is locked by someone else and never deployed the service. */
function routesFor(name: 'A' | 'B', modes: { bOutdated: boolean }) {
  return (req: RecordedRequest, res: ServerResponse) => {
    const { method, url } = req;
    if (url === '/v1/services/demo/lock?destination=') {
      if (method === 'GET') return reply(res, 200, { lock: name === 'B' ? LOCK : null });
      if (method === 'PUT') {
        if (name === 'B') return reply(res, 409, { error: { code: 'locked', message: `demo is locked by key ${LOCK.key_id} (alice@laptop) since ${LOCK.since}: db migration` } });
        return reply(res, 200, { lock: { ...LOCK, key_comment: 'me', message: JSON.parse(req.body.toString()).message } });
      }
      if (method === 'DELETE') {
        if (name === 'A') return reply(res, 404, { error: { code: 'not_found', message: 'demo is not locked on this server' } });
        if (modes.bOutdated) return reply(res, 404, { error: { code: 'not_found', message: 'no route for DELETE /v1/services/demo/lock' } });
        return reply(res, 200, { released: LOCK });
      }
    }
    if (method === 'GET' && url.startsWith('/v1/audit?service=demo&destination=&limit=')) {
      const entries = name === 'A'
        ? [entry(3, '2026-11-22T10:00:05.000Z', 'deploy.DONE', { deploy: 2, version: 'v2' }), entry(1, '2026-11-22T10:00:01.000Z', 'release.accepted', { deploy: 2 })]
        : [entry(8, '2026-11-22T10:00:09.000Z', 'lock.acquired', { message: 'db migration' }), entry(7, '2026-11-22T10:00:03.000Z', 'deploy.FAILED', { error: 'x' })];
      return reply(res, 200, { entries });
    }
    if (method === 'GET' && url.startsWith('/v1/services/demo/logs?destination=')) {
      if (name === 'B') return reply(res, 503, { error: { code: 'unavailable', message: 'the Docker engine is not answering' } });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      return res.end(`${JSON.stringify({ t: '2026-11-22T10:00:00.000Z', role: 'web', release: 'v2', container: 'demo-web-v2', stream: 'stdout', line: 'hello from A' })}\n`);
    }
    if (method === 'DELETE' && url === '/v1/services/demo?destination=') {
      if (name === 'B') return reply(res, 404, { error: { code: 'not_found', message: 'service demo has never been deployed on this agent' } });
      return reply(res, 200, { removed: { containers: ['demo-web-v2', 'demo-web-v1'], routes: 1 } });
    }
    reply(res, 404, { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
  };
}

describe('fleet commands against two agents', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const modes = { bOutdated: false };
  let a: FakeAgent;
  let b: FakeAgent;
  let hostA: string;
  let hostB: string;

  const run = cliRunner(dir.path, xdg);
  const sent = (method: string) => [...a.requests, ...b.requests].filter((r) => r.method === method && r.url !== '/v1/identity');

  before(async () => {
    ({ a, b, hostA, hostB } = await startAgentPair(dir.path, run, (name) => routesFor(name, modes)));
  });
  after(async () => {
    await a.close();
    await b.close();
    dir.cleanup();
  });

  it('lock status: one row per server, --json per host', async () => {
    const res = await run(['lock', 'status']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +LOCKED +BY +SINCE +MESSAGE$/);
    assert.match(lines[1]!, new RegExp(`^${hostA} +no +- +- +-$`));
    assert.match(lines[2]!, new RegExp(`^${hostB} +yes +KKKKKKKKKKKK \\(alice@laptop\\) +2026-11-22T10:00:00.000Z +db migration$`));
    const json = JSON.parse((await run(['lock', 'status', '--json'])).stdout);
    assert.deepEqual(json, { service: 'demo', destination: '', servers: [{ host: hostA, lock: null }, { host: hostB, lock: LOCK }] });
  });

  it('lock acquire: takes it where free, exits 1 naming the server that refused and its holder', async () => {
    const res = await run(['lock', 'acquire', '-m', '  deploy freeze  ']);
    assert.equal(res.code, 1);
    assert.deepEqual(sent('PUT').map((r) => JSON.parse(r.body.toString())), [{ message: 'deploy freeze' }, { message: 'deploy freeze' }]);
    assert.match(res.stdout, new RegExp(`${hostA} +yes .*deploy freeze`));
    assert.match(res.stdout, new RegExp(`${hostB} +\\? .*error: ${hostB}: demo is locked by key K+ \\(alice@laptop\\)`));
    assert.ok(res.stderr.startsWith(`error: ${hostB}: demo is locked by key ${LOCK.key_id} (alice@laptop) since ${LOCK.since}: db migration`), res.stderr);
  });

  it('lock acquire refuses a missing, empty or unprintable message with exit 2 and sends nothing', async () => {
    const before = sent('PUT').length;
    for (const argv of [['lock', 'acquire'], ['lock', 'acquire', '-m', ''], ['lock', 'acquire', '-m', 'a\x1b[2Jb'], ['lock', 'acquire', '-m', 'x'.repeat(501)]]) {
      const res = await run(argv);
      assert.equal(res.code, 2, `${argv.join(' ')}: ${res.stderr}`);
    }
    assert.equal(sent('PUT').length, before);
  });

  it('lock release: a server with no lock is fine; an agent without lock support is a failure', async () => {
    const ok = await run(['lock', 'release']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /released the lock on 1 of 2 server\(s\)/);
    assert.deepEqual(JSON.parse((await run(['lock', 'release', '--json'])).stdout).servers, [{ host: hostA, released: null }, { host: hostB, released: LOCK }]);
    modes.bOutdated = true;
    const old = await run(['lock', 'release']);
    modes.bOutdated = false;
    assert.equal(old.code, 1);
    assert.match(old.stderr, /the agent does not support locks/);
  });

  it('audit: merges every server newest first, asks each for at most N', async () => {
    const res = await run(['audit', '-n', '3']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME +HOST +KEY +ACTION +DETAIL$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/ {2,}/).slice(0, 4)), [
      ['2026-11-22 10:00:09Z', hostB, 'agent', 'lock.acquired'],
      ['2026-11-22 10:00:05Z', hostA, 'KKKKKKKKKKKK', 'deploy.DONE'],
      ['2026-11-22 10:00:03Z', hostB, 'KKKKKKKKKKKK', 'deploy.FAILED'],
    ]);
    assert.match(lines[1]!, /message="db migration"$/);
    assert.ok(sent('GET').filter((r) => r.url.startsWith('/v1/audit')).every((r) => r.url.endsWith('&limit=3')));
    const json = JSON.parse((await run(['audit', '--json'])).stdout);
    assert.deepEqual(json.entries.map((e: { host: string; id: number }) => `${e.host === hostA ? 'A' : 'B'}${e.id}`), ['B8', 'A3', 'B7', 'A1']);
    for (const n of ['0', '1001', 'x', '-1', '2.5']) assert.equal((await run(['audit', '-n', n])).code, 2, n);
  });

  it('logs: the lines of the server that answered, and the failed server named once with its reason; exit 1', async () => {
    const res = await run(['logs', '-n', '1']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, `${hostA} | hello from A\n`);
    const said = res.stderr.split('\n').filter((l) => l.includes('the Docker engine is not answering'));
    assert.equal(said.length, 1, res.stderr);
    assert.equal(said[0]!.split(hostB).length, 2, `the host is named once: ${said[0]}`);
    assert.match(res.stderr, /^error: /);
  });

  it('remove: without -y and without a terminal exits 2 and sends nothing', async () => {
    const res = await run(['remove']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /needs confirmation\nhint: .*-y \(--confirmed\)/);
    assert.equal(sent('DELETE').filter((r) => r.url.startsWith('/v1/services/demo?')).length, 0);
  });

  it('remove on a terminal: the typed name must match; then every server is asked', async () => {
    const stdout = captureStream();
    const stderr = captureStream();
    const ctx = {
      env: testEnv(dir.path, { xdgConfigHome: xdg, stdinIsTTY: true }),
      printer: createPrinter(stdout.stream, stderr.stream),
      style: plainStyle, json: false, live: false, globals: { json: false, verbose: false, help: false, config: undefined, destination: undefined, key: undefined },
    };
    const questions: string[] = [];
    await assert.rejects(runRemove(ctx, { confirmed: false }, async (q) => (questions.push(q), 'dem')), (e: Error & { code?: string }) => e.code === 'not_confirmed');
    assert.match(questions[0]!, new RegExp(`removes demo from 2 server\\(s\\): ${hostA}, ${hostB}\\.\\nType the service name to confirm: $`));
    assert.equal(sent('DELETE').filter((r) => r.url.startsWith('/v1/services/demo?')).length, 0);
    await runRemove(ctx, { confirmed: false }, async () => 'demo\n');
    assert.match(stdout.text(), new RegExp(`${hostA} +removed 2 container\\(s\\), 1 route\\(s\\) +demo-web-v2, demo-web-v1`));
    assert.match(stdout.text(), new RegExp(`${hostB} +not deployed here`));
  });

  it('remove -y --json: the result per server', async () => {
    const res = await run(['remove', '-y', '--json']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout).servers, [{ host: hostA, removed: { containers: ['demo-web-v2', 'demo-web-v1'], routes: 1 } }, { host: hostB, removed: null }]);
  });
});

describe('renderers', () => {
  const view = (over: Partial<ServiceView> = {}): ServiceView => ({
    name: 'demo', destination: '', seq: 4, current: { version: 'v4', image: `reg/demo@sha256:${'ab'.repeat(32)}`, seq: 4, deploy_id: 9 },
    containers: [{ id: '1', name: 'demo-web-v4', role: 'web', release: 'v4', state: 'running', status: 'running' }, { id: '2', name: 'demo-web-v3', role: 'web', release: 'v3', state: 'exited', status: 'exited (0)' }],
    routes: [{ host: 'demo.test', target: '10.0.0.2:80' }],
    ...over,
  });
  const deploy = (state: DeployState, version: string, error: string | null = null): LastDeploy => ({ id: 12, version, state, trigger: 'push', at: '2026-11-22T10:00:00.000Z', error });

  it('status adds LOCK and MAINTENANCE columns only when agents report them', () => {
    const table = renderStatusTable([
      { host: 'a', service: view({ lock: LOCK, maintenance: { service: 'demo', destination: '', key_id: 'k', message: 'back soon', since: 's' }, last_deploy: deploy('DONE', 'v4') }) },
      { host: 'b', service: view({ lock: null, maintenance: null, last_deploy: deploy('DONE', 'v4') }) },
      { host: 'c', service: null, error: 'connection refused' },
    ]);
    assert.equal(table, [
      'HOST  RELEASE  SEQ  CONTAINERS            LOCK                                   MAINTENANCE    LAST DEPLOY',
      'a     v4       4    1 running, 1 stopped  locked by KKKKKKKKKKKK (alice@laptop)  on: back soon  DONE',
      'b     v4       4    1 running, 1 stopped  -                                      -              DONE',
      'c     -        -    -                     -                                      -              error: connection refused',
      '',
    ].join('\n'));
  });

  it('status adds a PAUSE column only while some server is paused', () => {
    const pause = { service: 'demo', destination: '', key_id: 'k', timeout: 30, since: '2026-11-22T10:00:00.000Z' };
    const table = renderStatusTable([
      { host: 'a', service: view({ pause, last_deploy: deploy('DONE', 'v4') }) },
      { host: 'b', service: view({ pause: null, last_deploy: deploy('DONE', 'v4') }) },
    ]);
    assert.equal(table, [
      'HOST  RELEASE  SEQ  CONTAINERS            PAUSE                                                    LAST DEPLOY',
      'a     v4       4    1 running, 1 stopped  paused since 2026-11-22T10:00:00.000Z (held up to 30 s)  DONE',
      'b     v4       4    1 running, 1 stopped  -                                                        DONE',
      '',
    ].join('\n'));
    assert.doesNotMatch(renderStatusTable([{ host: 'b', service: view({ pause: null }) }]), /PAUSE/);
  });

  it('status LAST DEPLOY is the newest deploy\'s state, with its version when it is not the one served; - from older agents', () => {
    const table = renderStatusTable([
      { host: 'failed', service: view({ last_deploy: deploy('REVERTED', 'v5', 'health check failed') }) },
      { host: 'busy', service: view({ last_deploy: deploy('STARTED', 'v5') }) },
      { host: 'first', service: view({ current: null, containers: [], last_deploy: deploy('FAILED', 'v1\x1b[2J') }) },
      { host: 'old', service: view() },
      { host: 'new', service: null },
    ]);
    assert.equal(table, [
      'HOST    RELEASE  SEQ  CONTAINERS            LAST DEPLOY',
      'failed  v4       4    1 running, 1 stopped  REVERTED (v5)',
      'busy    v4       4    1 running, 1 stopped  STARTED (v5)',
      'first   -        4    0 running, 0 stopped  FAILED (v1)',
      'old     v4       4    1 running, 1 stopped  -',
      'new     -        0    -                     never deployed',
      '',
    ].join('\n'));
  });

  it('details: release, lock, containers table and routes per server; terminal escapes removed', () => {
    const block = renderDetailsBlock('h:7443', view({ lock: { ...LOCK, message: 'db\x1b[2J migration' } }));
    assert.equal(block, [
      'h:7443',
      `  release:     v4 (seq 4, deploy #9, reg/demo@sha256:abababababab)`,
      `  lock:        locked by KKKKKKKKKKKK (alice@laptop) since 2026-11-22T10:00:00.000Z: db migration`,
      '',
      '  NAME         ROLE  RELEASE  STATE    STATUS',
      '  demo-web-v4  web   v4       running  running',
      '  demo-web-v3  web   v3       exited   exited (0)',
      '',
      '  ROUTES',
      '  demo.test → 10.0.0.2:80',
      '',
    ].join('\n'));
    assert.equal(renderDetailsBlock('h', view({ current: null, containers: [], routes: [], lock: null })), 'h\n  release:     none (seq 4)\n  lock:        none\n\n  no containers\n\n  no routes\n');
    assert.equal(
      renderDetailsBlock('h', view({ containers: [], routes: [], last_deploy: deploy('REVERTED', 'v5', 'health check failed') })),
      'h\n  release:     v4 (seq 4, deploy #9, reg/demo@sha256:abababababab)\n  last deploy: #12 v5 REVERTED at 2026-11-22T10:00:00.000Z: health check failed\n\n  no containers\n\n  no routes\n',
    );
    assert.equal(renderDetailsBlock('h', null), 'h\n  never deployed here\n');
    assert.equal(renderDetailsBlock('h', null, 'boom'), 'h\n  error: boom\n');
  });

  it('audit detail is compact key=value on one line', () => {
    assert.equal(renderDetail({ deploy: 3, version: 'v2', containers: ['a', 'b'], message: 'two words', nested: { x: 1 }, evil: 'x\ny\x1b[31m' }), 'deploy=3 version=v2 containers=a,b message="two words" nested={"x":1} evil="x\\ny\\u001b[31m"');
    const merged = mergeAudit([{ host: 'b', entries: [entry(2, '2026-01-01T00:00:00.000Z', 'x')] }, { host: 'a', entries: [entry(5, '2026-01-01T00:00:00.000Z', 'y'), entry(4, '2025-01-01T00:00:00.000Z', 'z')] }], 10);
    assert.deepEqual(merged.map((e) => `${e.host}${e.id}`), ['a5', 'b2', 'a4']);
    assert.match(renderAuditTable(merged), /^TIME +HOST +KEY +ACTION +DETAIL\n2026-01-01 00:00:00Z +a +KKKKKKKKKKKK +y\n/);
  });

  it('a fleet failure names every failed server and why; one failure keeps its own error', () => {
    const one = new ConflictError('h1: demo is locked', 'release it', 'locked');
    assert.equal(hostsFailure([{ host: 'h1', ok: false, error: one.message, cause: one }, { host: 'h2', ok: true, value: 1 }], { doing: 'x' }), one);
    const many = hostsFailure([
      { host: 'h1', ok: false, error: 'h1: refused', cause: new UpstreamError('h1: refused') },
      { host: 'h2', ok: false, error: 'timeout', cause: new Error('timeout') },
      { host: 'h3', ok: true, value: 1 },
    ], { doing: 'read the lock' });
    assert.equal(many?.message, 'could not read the lock on 2 of 3 servers (h1, h2): h1: refused; h2: timeout');
    assert.equal(hostsFailure([{ host: 'h', ok: true, value: 1 }], { doing: 'x' }), undefined);
  });
});
