import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../../cli/main.js';
import { releaseVersion } from '../../../cli/release-version.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { captureStream, makeCert, startFakeAgent, tempDir, testEnv, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { waitFor } from '../../support/wait.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

interface Behaviour {
  final: 'DONE' | 'REVERTED';
  seq: number | null;
  /** Refuse seqs up to this one even when the seq read says less (a push that won a race). */
  refuseSeqBelow?: number;
}

/** The agent side of a release: seq lookup, 202 on POST (409 for a seq not above the last), then an SSE stream cut into awkward chunks. */
function agentRoutes(behaviour: Behaviour, accepted: string[]) {
  return (req: RecordedRequest, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/v1/services/demo?destination=') {
      if (behaviour.seq === null) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { code: 'not_found', message: 'service demo was never deployed' } }));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ service: { name: 'demo', destination: '', seq: behaviour.seq, current: { version: 'old', image: 'x', seq: behaviour.seq, deploy_id: 1 }, containers: [{ id: 'c1', name: 'demo-web-old', role: 'web', release: 'old', state: 'running', status: 'Up' }], routes: [], last_deploy: { id: 1, version: 'old', state: 'DONE', trigger: 'push', at: '2026-01-01T00:00:00.000Z', error: null } } }));
    }
    if (req.method === 'POST' && req.url === '/v1/releases') {
      const manifest = JSON.parse(req.body.toString()).manifest as string;
      // As the agent does: a seq not above the last accepted one is refused before anything else.
      const seq = (JSON.parse(Buffer.from(manifest.split('.')[1]!, 'base64url').toString()) as { seq: number }).seq;
      const floor = behaviour.refuseSeqBelow ?? behaviour.seq;
      if (floor !== null && seq <= floor) {
        res.writeHead(409, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: { code: 'seq_not_increasing', message: `seq ${seq} is not above the last accepted seq ${floor} for demo`, hint: 'sign a new manifest with a higher seq' } }));
      }
      accepted.push(manifest);
      res.writeHead(202, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ deploy: { id: 7, service: 'demo', destination: '', version: 'v1', state: 'RECEIVED' } }));
    }
    if (req.method === 'GET' && req.url === '/v1/deploys/7/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event = (id: number, state: string, message: string, extra = {}) => `id: ${id}\r\nevent: progress\r\ndata: ${JSON.stringify({ id, deploy_id: 7, at: new Date().toISOString(), state, message, ...extra })}\r\n\r\n`;
      const failed = behaviour.final === 'REVERTED';
      const record = { id: 7, service: 'demo', destination: '', version: 'v1', seq: 1, image: 'x', state: behaviour.final, error: failed ? 'health check GET /up answered 500 for 30s' : null, key_id: 'k', created_at: '', updated_at: '' };
      const stream = [': keep-alive\n\n', event(1, 'VERIFIED', 'manifest verified'), event(2, 'PULLED', 'pulled image', { progress: 100 }), failed ? event(3, 'FAILED', 'never healthy') : event(3, 'SWITCHED', 'router switched'), `event: end\ndata: ${JSON.stringify(record)}\n\n`].join('');
      // Split mid-line and mid-CRLF to exercise the parser on real sockets.
      const cuts = [5, 40, 41, 97, 200];
      let at = 0;
      for (const cut of cuts) {
        res.write(stream.slice(at, cut));
        at = cut;
      }
      return res.end(stream.slice(at));
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } }));
  };
}

async function run(cwd: string, argv: string[], xdg: string) {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env: testEnv(cwd, { xdgConfigHome: xdg }), stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('deploy push and status against a local agent', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const behaviour: Behaviour = { final: 'DONE', seq: null };
  const accepted: string[] = [];
  let agent: FakeAgent;
  let host: string;
  let kid: string;
  let publicJwk: Record<string, unknown>;

  before(async () => {
    agent = await startFakeAgent(makeCert(dir.path, 'agent'), { route: agentRoutes(behaviour, accepted) });
    host = `127.0.0.1:${agent.port}`;
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - ${host}\nproxy:\n  host: demo.test\n  app_port: 8080\nenv:\n  GREETING: hi\n`);
    const keys = await run(dir.path, ['keys', 'new'], xdg);
    assert.equal(keys.code, 0);
    const { readKeyFile } = await import('../../../cli/keys.js');
    const key = await readKeyFile(join(xdg, 'berth', 'key.jwk'));
    kid = key.kid;
    publicJwk = key.publicJwk;
  });
  after(async () => {
    await agent.close();
    dir.cleanup();
  });

  it('refuses an unknown server unless --trust-new', async () => {
    const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
    assert.equal(res.code, 1);
    assert.ok(res.stderr.includes(`unknown server ${host}; run \`deploy server add ${host}\` first`), res.stderr);
    assert.equal(accepted.length, 0);
  });

  it('signs one manifest for the agent, follows its events and prints a summary', async () => {
    const res = await run(dir.path, ['push', '--version', 'v1', '--trust-new'], xdg);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(accepted.length, 1);
    const payload: ManifestPayload = await verifyManifest(accepted[0]!, { lookupKey: (k) => (k === kid ? publicJwk : undefined), audience: agent.agentId });
    assert.equal(payload.image, `127.0.0.1:5000/berth-test/web@${DIGEST}`);
    assert.equal(payload.version, 'v1');
    assert.equal(payload.sub, 'demo');
    assert.equal(payload.exp - payload.iat, 600);
    assert.ok(payload.seq >= Date.now() - 60_000, 'seq is the time in ms when the agent has none');
    assert.deepEqual(payload.roles.web?.proxy, { hosts: ['demo.test'], app_port: 8080, healthcheck: { path: '/up', interval: 1, timeout: 5 } });
    assert.deepEqual(payload.roles.web?.env, { clear: { GREETING: 'hi' }, secret: {} });
    const lines = res.stdout.split('\n');
    assert.ok(lines.some((l) => l.startsWith(`${host}  PINNED`)), res.stdout);
    assert.ok(lines.some((l) => /^127\.0\.0\.1:\d+  VERIFIED   manifest verified$/.test(l)), res.stdout);
    assert.ok(lines.some((l) => /PULLED +pulled image \(100%\)$/.test(l)), res.stdout);
    assert.match(res.stdout, /HOST +ROLE +RELEASE +RESULT +TIME\n127\.0\.0\.1:\d+ +web +v1 +deployed +\d+\.\ds\n/);
  });

  it('holds the whole conversation of a push with the agent on one TLS connection', async () => {
    const handshakes = agent.tlsHandshakes();
    const requests = agent.requests.length;
    const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
    assert.equal(res.code, 0, res.stderr);
    const sent = agent.requests.slice(requests).map((r) => `${r.method} ${r.url.split('?')[0]}`);
    // No seq read first: the clock's seq is above the agent's, so the release is one round trip.
    assert.deepEqual(sent, ['GET /v1/identity', 'POST /v1/releases', 'GET /v1/deploys/7/events']);
    assert.equal(agent.tlsHandshakes() - handshakes, 1, 'identity, release and events share one pinned connection');
  });

  it('sends current seq + 1 when that is larger than the clock, after the agent refused the clock\'s seq', async () => {
    behaviour.seq = Date.now() + 10_000_000;
    const requests = agent.requests.length;
    const before = accepted.length;
    const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
    assert.equal(res.code, 0, res.stderr);
    const sent = agent.requests.slice(requests).map((r) => `${r.method} ${r.url.split('?')[0]}`);
    assert.deepEqual(sent, ['GET /v1/identity', 'POST /v1/releases', 'GET /v1/services/demo', 'POST /v1/releases', 'GET /v1/deploys/7/events']);
    assert.equal(accepted.length, before + 1);
    const payload = await verifyManifest(accepted.at(-1)!, { lookupKey: () => publicJwk, audience: agent.agentId });
    assert.equal(payload.seq, behaviour.seq + 1);
  });

  it('reads the seq once: a second refusal is the agent\'s error, as before', async () => {
    behaviour.seq = Date.now() + 10_000_000;
    behaviour.refuseSeqBelow = behaviour.seq + 5;
    const requests = agent.requests.length;
    const before = accepted.length;
    try {
      const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`error: deploy failed on ${host.replace(/[.]/g, '\\.')}: seq ${behaviour.seq + 1} is not above the last accepted seq ${behaviour.seq + 5} for demo`), res.stderr);
      const sent = agent.requests.slice(requests).map((r) => `${r.method} ${r.url.split('?')[0]}`);
      assert.deepEqual(sent, ['GET /v1/identity', 'POST /v1/releases', 'GET /v1/services/demo', 'POST /v1/releases']);
      assert.equal(accepted.length, before);
    } finally {
      delete behaviour.refuseSeqBelow;
    }
  });

  it('exits 1 naming the host and the reason when the deploy is reverted', async () => {
    behaviour.final = 'REVERTED';
    const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /failed: health check GET \/up answered 500 for 30s/);
    assert.ok(res.stderr.includes(`\nerror: deploy failed on ${host}: health check GET /up answered 500 for 30s\nhint: `), res.stderr);
    behaviour.final = 'DONE';
  });

  it('writes NDJSON with --json', async () => {
    const res = await run(dir.path, ['push', '--version', 'v1', '--json'], xdg);
    assert.equal(res.code, 0, res.stdout);
    assert.equal(res.stderr, '');
    const records = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(records.map((r) => r.type), ['progress', 'progress', 'progress', 'progress', 'result']);
    assert.deepEqual(records.at(-1), { ...records.at(-1), type: 'result', host, release: 'v1', ok: true, state: 'DONE', deploy_id: 7 });
  });

  it('a failed registry lookup ends the push before anything is posted, and ends the connection it was opening meanwhile', async () => {
    // A pinned host that accepts TCP and never answers the TLS handshake.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentHost = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
    // The registry fails the lookup once the CLI is connecting to that host.
    const registry = createHttpServer((_req, res) => {
      void waitFor('the CLI to connect to the silent host', () => sockets.length > 0, 5000, { intervalMs: 5 }).finally(() => {
        res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    const registryHost = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
    const knownFile = join(dir.path, '.berth', 'known_agents');
    const known = readFileSync(knownFile, 'utf8');
    const config = readFileSync(join(dir.path, 'deploy.yml'), 'utf8');
    const posted = accepted.length;
    try {
      writeFileSync(knownFile, JSON.stringify({ ...JSON.parse(known), [silentHost]: JSON.parse(known)[host] }));
      writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: ${registryHost}/berth-test/web:v1\nservers:\n  - ${silentHost}\nproxy:\n  host: demo.test\n`);
      const res = await run(dir.path, ['push', '--version', 'v1'], xdg);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^error: registry 127\.0\.0\.1:\d+ answered HTTP 500 for /m);
      assert.equal(accepted.length, posted);
      assert.ok(sockets.length > 0);
      await waitFor('the connection to the silent host to be ended', () => sockets.every((s) => s.readableEnded || s.destroyed), 5000);
    } finally {
      writeFileSync(knownFile, known);
      writeFileSync(join(dir.path, 'deploy.yml'), config);
      for (const socket of sockets) socket.destroy();
      silent.close();
      registry.close();
    }
  });

  it('shows status per server', async () => {
    const res = await run(dir.path, ['status'], xdg);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^HOST +RELEASE +SEQ +CONTAINERS +LAST DEPLOY\n127\.0\.0\.1:\d+ +old +\d+ +1 running, 0 stopped +DONE\n$/);
    const json = JSON.parse((await run(dir.path, ['status', '--json'], xdg)).stdout);
    assert.equal(json.servers[0].service.seq, behaviour.seq);
    behaviour.seq = null;
    assert.match((await run(dir.path, ['status'], xdg)).stdout, /never deployed/);
  });
});

describe('release version', () => {
  it('is the full git SHA, marked when the tree is dirty, else --version is needed', async () => {
    const dir = tempDir();
    try {
      await assert.rejects(releaseVersion(dir.path, undefined), /not a git repository with a commit/);
      const git = (...args: string[]) => execFileSync('git', ['-C', dir.path, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { stdio: 'pipe' }).toString().trim();
      git('init', '-q');
      writeFileSync(join(dir.path, 'a.txt'), 'a');
      git('add', '.');
      git('commit', '-q', '-m', 'one');
      const head = git('rev-parse', 'HEAD');
      assert.equal(await releaseVersion(dir.path, undefined), head);
      writeFileSync(join(dir.path, 'a.txt'), 'b');
      assert.match(await releaseVersion(dir.path, undefined), new RegExp(`^${head}_uncommitted_[0-9a-f]{16}$`));
      assert.equal(await releaseVersion(dir.path, 'v2.1'), 'v2.1');
      await assert.rejects(releaseVersion(dir.path, '../etc'), /is not a valid version/);
    } finally {
      dir.cleanup();
    }
  });
});
