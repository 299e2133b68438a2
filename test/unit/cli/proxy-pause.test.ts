// deploy proxy pause / resume against local HTTPS agents: the signed POSTs, a
// row per host, a bad --timeout refused before any server is contacted, and
// an agent without proxy.pause.v1 refused by name (it never sees the POST).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FEATURES } from '../../../shared/version.js';
import { cliRunner, makeCert, startFakeAgent, tempDir, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';

const PAUSE = '/v1/services/demo/proxy/pause?destination=';
const RESUME = '/v1/services/demo/proxy/resume?destination=';

function agentRoutes() {
  return (req: RecordedRequest, res: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === PAUSE) {
      const timeout = (JSON.parse(req.body.toString() || '{}') as { timeout?: number }).timeout ?? 30;
      return reply(200, { pause: { service: 'demo', destination: '', key_id: 'k', timeout, since: '2026-01-01T00:00:00.000Z' } });
    }
    if (req.method === 'POST' && req.url === RESUME) return reply(200, { pause: null });
    return reply(404, { error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  };
}

describe('deploy proxy pause and resume', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  let current: FakeAgent;
  let outdated: FakeAgent;
  let host: string;
  let oldHost: string;
  const run = cliRunner(dir.path, xdg);
  const posts = (agent: FakeAgent) => agent.requests.filter((r) => r.method === 'POST');
  const config = (...servers: string[]) =>
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n${servers.map((s) => `  - ${s}\n`).join('')}proxy:\n  host: demo.test\n`);

  before(async () => {
    current = await startFakeAgent(makeCert(dir.path, 'current'), { route: agentRoutes() });
    outdated = await startFakeAgent(makeCert(dir.path, 'outdated'), { route: agentRoutes(), features: FEATURES.filter((f) => f !== 'proxy.pause.v1') });
    host = `127.0.0.1:${current.port}`;
    oldHost = `127.0.0.1:${outdated.port}`;
    config(host);
    assert.equal((await run(['keys', 'new'])).code, 0);
    for (const h of [host, oldHost]) assert.equal((await run(['server', 'add', h])).code, 0);
  });
  after(async () => {
    await current.close();
    await outdated.close();
    dir.cleanup();
  });

  it('pause --timeout sends a signed POST with the timeout; resume posts no body', async () => {
    const res = await run(['proxy', 'pause', '--timeout', '12.5']);
    assert.equal(res.code, 0, res.stderr);
    const [post] = posts(current);
    assert.equal(post?.url, PAUSE);
    assert.deepEqual(JSON.parse(post?.body.toString() ?? ''), { timeout: 12.5 });
    assert.match(String(post?.headers.authorization), /^Berth /);
    assert.match(res.stdout, new RegExp(`${host} +paused +requests held up to 12\\.5 s, then 504\\n$`));
    const plain = await run(['proxy', 'pause']);
    assert.deepEqual(JSON.parse(posts(current).at(-1)?.body.toString() ?? ''), {}, 'the agent picks the default');
    assert.match(plain.stdout, /held up to 30 s/);
    const resumed = await run(['proxy', 'resume']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(posts(current).at(-1)?.url, RESUME);
    assert.match(resumed.stdout, new RegExp(`${host} +live +serving\\n$`));
  });

  it('a malformed --timeout is a usage error and no server is contacted', async () => {
    const before = posts(current).length;
    for (const timeout of ['0', '-1', 'soon', '3601', '1e3', '']) {
      const res = await run(['proxy', 'pause', `--timeout=${timeout}`]);
      assert.equal(res.code, 2, `${timeout}: ${res.stderr}`);
      assert.match(res.stderr, /error: --timeout /);
    }
    assert.equal(posts(current).length, before);
  });

  it('an agent without proxy.pause.v1 is refused by name and sees no POST; the others still pause', async () => {
    config(host, oldHost);
    try {
      const res = await run(['proxy', 'pause']);
      assert.equal(res.code, 1);
      assert.match(res.stdout, new RegExp(`${oldHost} +failed +error: the agent on ${oldHost} cannot pause traffic \\(it lacks proxy\\.pause\\.v1\\)`));
      assert.match(res.stdout, new RegExp(`${host} +paused`));
      assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${oldHost.replace(/\./g, '\\.')}`));
      assert.deepEqual(posts(outdated), []);
    } finally {
      config(host);
    }
  });
});
