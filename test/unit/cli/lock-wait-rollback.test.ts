// `deploy push --lock-wait` and `deploy rollback` / `deploy releases` against a
// local fake agent: what is posted, what is printed, and the exit codes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { after, before, beforeEach, describe, it } from 'node:test';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { seal } from '../../../shared/sealing.js';
import { cliRunner, makeCert, startFakeAgent, tempDir, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const IMAGE = `127.0.0.1:5000/berth-test/web@${DIGEST}`;
const LOCK_MESSAGE = 'demo is locked by key abc (ops@laptop) since 2026-01-01T00:00:00.000Z: database migration';

interface AgentState {
  /** POSTs answered 409 locked before one is accepted (Infinity: always). */
  lockedPosts: number;
  seq: number;
  /** POSTs refused for a seq not above s.seq (not in `posted`). */
  seqRefused: number;
  posted: string[];
  stored: Record<string, unknown>;
  releases: unknown[];
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function routes(s: AgentState) {
  return (req: RecordedRequest, res: ServerResponse) => {
    if (req.method === 'GET' && req.url === '/v1/services/demo?destination=') {
      // The seq moves on while the lock is held, as another deploy would move it.
      s.seq += 10;
      return json(res, 200, { service: { name: 'demo', destination: '', seq: s.seq, current: null, containers: [], routes: [] } });
    }
    if (req.method === 'GET' && req.url === '/v1/services/demo/releases?destination=') return json(res, 200, { releases: s.releases });
    const stored = /^\/v1\/services\/demo\/releases\/([^?]+)\?destination=$/.exec(req.url);
    if (req.method === 'GET' && stored) {
      const payload = s.stored[stored[1]!];
      if (!payload) return json(res, 404, { error: { code: 'not_found', message: `release ${stored[1]} of demo is not on this agent` } });
      return json(res, 200, { release: { version: stored[1], seq: 1, image: IMAGE, key_id: 'k', created_at: '', payload } });
    }
    if (req.method === 'POST' && req.url === '/v1/releases') {
      const manifest = JSON.parse(req.body.toString()).manifest as string;
      // As the agent does: a seq not above the last accepted one is refused before the lock is looked at.
      const seq = (JSON.parse(Buffer.from(manifest.split('.')[1]!, 'base64url').toString()) as { seq: number }).seq;
      if (seq <= s.seq) {
        s.seqRefused += 1;
        return json(res, 409, { error: { code: 'seq_not_increasing', message: `seq ${seq} is not above the last accepted seq ${s.seq} for demo` } });
      }
      s.posted.push(manifest);
      if (s.posted.length <= s.lockedPosts) return json(res, 409, { error: { code: 'locked', message: LOCK_MESSAGE, hint: 'deploy lock release, or push with --lock-wait SECONDS' } });
      return json(res, 202, { deploy: { id: 7, service: 'demo', destination: '', version: 'x', state: 'RECEIVED' } });
    }
    if (req.method === 'GET' && req.url === '/v1/deploys/7/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const record = { id: 7, service: 'demo', destination: '', version: 'x', seq: 1, image: IMAGE, state: 'DONE', error: null, key_id: 'k', created_at: '', updated_at: '' };
      const event = { id: 1, deploy_id: 7, at: new Date().toISOString(), state: 'STARTED', message: 'web: started retained container demo-web-v1' };
      return res.end(`id: 1\nevent: progress\ndata: ${JSON.stringify(event)}\n\nevent: end\ndata: ${JSON.stringify(record)}\n\n`);
    }
    json(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  };
}

describe('push --lock-wait, rollback and releases against a local agent', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const s: AgentState = { lockedPosts: 0, seq: 0, seqRefused: 0, posted: [], stored: {}, releases: [] };
  let agent: FakeAgent;
  let host: string;
  let publicJwk: Record<string, unknown>;
  let kid: string;

  const run = cliRunner(dir.path, xdg);
  const posted = (i: number): Promise<ManifestPayload> => verifyManifest(s.posted[i]!, { lookupKey: () => publicJwk, audience: agent.agentId });

  before(async () => {
    agent = await startFakeAgent(makeCert(dir.path, 'agent'), { route: routes(s) });
    host = `127.0.0.1:${agent.port}`;
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: ${IMAGE}\nservers:\n  - ${host}\nproxy:\n  host: demo.test\n`);
    assert.equal((await run(['keys', 'new'])).code, 0);
    const { readKeyFile } = await import('../../../cli/keys.js');
    const key = await readKeyFile(join(xdg, 'berth', 'key.jwk'));
    publicJwk = key.publicJwk;
    kid = key.kid;
    assert.equal((await run(['server', 'add', host])).code, 0);
  });
  beforeEach(() => {
    s.posted.length = 0;
    s.seqRefused = 0;
    s.lockedPosts = 0;
    s.seq = Date.now() + 1_000_000;
  });
  after(async () => {
    await agent.close();
    dir.cleanup();
  });

  it('without --lock-wait a held lock fails at once with the lock message', async () => {
    s.lockedPosts = Infinity;
    const res = await run(['push', '--version', 'v1']);
    assert.equal(res.code, 1);
    assert.equal(s.posted.length, 1);
    assert.ok(res.stderr.includes(`error: deploy failed on ${host}: ${LOCK_MESSAGE}`), res.stderr);
    assert.match(res.stdout, new RegExp(`\\n${host.replace(/[.]/g, '\\.')} +web +v1 +failed: `), res.stdout);
  });

  it('with --lock-wait retries, re-reading the seq and signing anew each time, and says once that it waits', async () => {
    s.lockedPosts = 2;
    const res = await run(['push', '--version', 'v1', '--lock-wait', '30']);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.equal(s.posted.length, 3);
    const waits = res.stdout.split('\n').filter((l) => l.includes('waiting for the lock'));
    assert.equal(waits.length, 1, res.stdout);
    assert.ok(waits[0]!.endsWith(`waiting for the lock on ${host}: ${LOCK_MESSAGE}`), waits[0]);
    const payloads = await Promise.all([0, 1, 2].map(posted));
    assert.equal(new Set(payloads.map((p) => p.jti)).size, 3, 'a fresh jti per attempt');
    assert.ok(payloads[0]!.seq < payloads[1]!.seq && payloads[1]!.seq < payloads[2]!.seq, 'the seq follows the agent');
    assert.equal(payloads[2]!.seq, s.seq + 1);
    assert.equal(s.seqRefused, 1, 'only the first attempt, signed with the clock\'s seq, was below the agent\'s');
  });

  it('gives up at the deadline with the lock message', async () => {
    s.lockedPosts = Infinity;
    const res = await run(['push', '--version', 'v1', '--lock-wait', '1']);
    assert.equal(res.code, 1);
    assert.ok(s.posted.length >= 2, 'tried again before the deadline');
    assert.ok(res.stderr.includes(`error: deploy failed on ${host}: ${LOCK_MESSAGE}`), res.stderr);
  });

  it('refuses a malformed --lock-wait as a usage error before contacting anyone', async () => {
    for (const bad of ['-1', 'soon', '1.5', '99999999']) {
      const res = await run(['push', '--version', 'v1', `--lock-wait=${bad}`]);
      assert.equal(res.code, 2, `${bad}: ${res.stderr}`);
      assert.match(res.stderr, /--lock-wait must be a number of seconds/);
    }
    assert.equal((await run(['rollback', 'v1', '--lock-wait', 'x'])).code, 2);
    assert.equal(s.posted.length, 0);
  });

  it('rollback re-signs the stored payload of the previous release with a new seq, issuer and trigger', async () => {
    const now = Math.floor(Date.now() / 1000);
    const sealed = await seal('s3cret', agent.keys.sealing.publicJwk, { use: 'env', service: 'demo', destination: '', role: 'web', name: 'S' });
    s.stored.v1 = {
      apiVersion: 'berth/v1', iss: 'o'.repeat(43), aud: agent.agentId, sub: 'demo', iat: now - 3600, exp: now - 3000, jti: 'old-jti-0123456789', seq: 5,
      service: 'demo', destination: '', version: 'v1', image: IMAGE,
      roles: { web: { env: { clear: { A: '1' }, secret: { S: sealed } }, proxy: { hosts: ['demo.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } },
      deploy_timeout: 30, drain_timeout: 30, readiness_delay: 7, stop_timeout: 10, retain_containers: 5,
    };
    s.releases = [
      { version: 'v3', image: IMAGE, seq: 9, key_id: kid, created_at: '2026-01-01T00:00:09.000Z', trigger: 'push', last_state: 'REVERTED', error: 'x', container: null, current: false },
      { version: 'v2', image: IMAGE, seq: 8, key_id: kid, created_at: '2026-01-01T00:00:08.000Z', trigger: 'push', last_state: 'DONE', error: null, container: 'running', current: true },
      { version: 'v1', image: IMAGE, seq: 5, key_id: kid, created_at: '2026-01-01T00:00:05.000Z', trigger: 'push', last_state: 'DONE', error: null, container: 'stopped', current: false },
    ];
    const res = await run(['rollback']);
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.match(res.stderr, /rolling back demo to v1 on 1 server/);
    assert.match(res.stdout, /HOST +ROLE +RELEASE +RESULT +TIME\n127\.0\.0\.1:\d+ +web +v1 +rolled back/);
    const p = await posted(0);
    assert.deepEqual([p.version, p.iss, p.trigger, p.seq], ['v1', kid, 'rollback', s.seq + 1]);
    assert.equal(p.roles.web?.env.secret.S, sealed, 'sealed values are sent as stored');
    assert.ok(p.iat >= now && p.exp === p.iat + 600 && p.jti !== 'old-jti-0123456789');

    const table = await run(['releases']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^HOST +RELEASE +IMAGE +WHEN +KEY +STATUS\n/);
    assert.match(table.stdout, new RegExp(`127\\.0\\.0\\.1:\\d+ +v2 +web@sha256:cdcdcdcdcdcd +2026-01-01 00:00:08 +${kid.slice(0, 12).replace(/[-]/g, '\\-')} +current\n`));
    assert.match(table.stdout, / v3 .* failed\n/);
    assert.match(table.stdout, / v1 .* retained\n/);
    const asJson = JSON.parse((await run(['releases', '--json'])).stdout);
    assert.deepEqual(asJson.servers[0].releases.map((r: { version: string }) => r.version), ['v3', 'v2', 'v1']);
  });

  it('rollback to a release the server does not have fails naming it, and posts nothing', async () => {
    const res = await run(['rollback', 'v9']);
    assert.equal(res.code, 1);
    assert.ok(res.stderr.includes(`error: rollback failed on ${host}: release v9 of demo is not on this server\nhint: deploy releases lists`), res.stderr);
    assert.equal(s.posted.length, 0);
    const bad = await run(['rollback', '../v1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a release name/);
  });

  it('rollback with nothing earlier that went live says so', async () => {
    s.releases = [{ version: 'v1', image: IMAGE, seq: 5, key_id: kid, created_at: '', trigger: 'push', last_state: 'DONE', error: null, container: 'running', current: true }];
    const res = await run(['rollback']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /has no earlier release of demo that went live/);
    assert.equal(s.posted.length, 0);
  });
});
