// deploy maintenance / deploy live against two local HTTPS agents, one of
// which refuses: a row per host, NDJSON with --json, exit 1 naming the failed
// host, and a bad --message refused before any server is contacted.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cliRunner, makeCert, startFakeAgent, tempDir, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';

const PATH = '/v1/services/demo/maintenance?destination=';

/** An agent that keeps the maintenance state it is sent, or refuses every change with `refuse`. */
function agentRoutes(refuse?: { status: number; code: string; message: string; hint?: string }) {
  let message: string | null = null;
  return (req: RecordedRequest, res: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url !== PATH) return reply(404, { error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } });
    if (refuse) return reply(refuse.status, { error: refuse });
    if (req.method === 'PUT') {
      message = (JSON.parse(req.body.toString() || '{}') as { message?: string }).message ?? 'This service is down for maintenance.';
      return reply(200, { maintenance: { service: 'demo', destination: '', key_id: 'k', message, since: '2026-01-01T00:00:00.000Z' } });
    }
    if (req.method === 'DELETE') {
      message = null;
      return reply(200, { maintenance: null });
    }
    return reply(405, { error: { code: 'method_not_allowed', message: 'no' } });
  };
}

describe('deploy maintenance and deploy live', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  let good: FakeAgent;
  let bad: FakeAgent;
  let goodHost: string;
  let badHost: string;

  const run = cliRunner(dir.path, xdg);
  const changes = () => [...good.requests, ...bad.requests].filter((r) => r.url === PATH);

  before(async () => {
    good = await startFakeAgent(makeCert(dir.path, 'good'), { route: agentRoutes() });
    bad = await startFakeAgent(makeCert(dir.path, 'bad'), {
      route: agentRoutes({ status: 403, code: 'forbidden', message: 'key k (reader) has scope read; this needs deploy', hint: "on the server: berth-agent trust add '<line>' --scope deploy" }),
    });
    goodHost = `127.0.0.1:${good.port}`;
    badHost = `127.0.0.1:${bad.port}`;
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n  - ${goodHost}\nproxy:\n  host: demo.test\n`);
    assert.equal((await run(['keys', 'new'])).code, 0);
    for (const host of [goodHost, badHost]) assert.equal((await run(['server', 'add', host])).code, 0);
  });
  after(async () => {
    await good.close();
    await bad.close();
    dir.cleanup();
  });

  it('maintenance --message sends a signed PUT and shows one row per host', async () => {
    const res = await run(['maintenance', '--message', 'Back at 5']);
    assert.equal(res.code, 0, res.stderr);
    const [put] = changes();
    assert.equal(put?.method, 'PUT');
    assert.deepEqual(JSON.parse(put?.body.toString() ?? ''), { message: 'Back at 5' });
    assert.match(String(put?.headers.authorization), /^Berth /);
    assert.match(res.stdout, new RegExp(`^HOST +STATE +DETAIL\\n${goodHost} +maintenance +Back at 5\\n$`));
  });

  it('without --message the body is empty and the agent default is shown; live ends it', async () => {
    const res = await run(['maintenance']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(changes().at(-1)?.body.toString() ?? ''), {});
    assert.match(res.stdout, /maintenance +This service is down for maintenance\.\n$/);
    const live = await run(['live']);
    assert.equal(live.code, 0, live.stderr);
    assert.equal(changes().at(-1)?.method, 'DELETE');
    assert.match(live.stdout, new RegExp(`${goodHost} +live +serving\\n$`));
  });

  it('a server that refuses: the others still switch, exit 1 names it, one row each', async () => {
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n  - ${goodHost}\n  - ${badHost}\nproxy:\n  host: demo.test\n`);
    const res = await run(['maintenance', '-m', 'Back at 5']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, new RegExp(`${goodHost} +maintenance +Back at 5\\n`));
    assert.match(res.stdout, new RegExp(`${badHost} +failed +error: ${badHost}: key k \\(reader\\) has scope read; this needs deploy\\n`));
    assert.ok(res.stderr.includes(`error: 1 of 2 servers did not go into maintenance: ${badHost}\n`), res.stderr);
    assert.ok(res.stderr.includes('hint: on the server: berth-agent trust add'), res.stderr);
  });

  it('--json writes one NDJSON line per host, then the error', async () => {
    const res = await run(['live', '--json']);
    assert.equal(res.code, 1);
    const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3, res.stdout);
    const byHost = new Map(lines.slice(0, 2).map((l) => [l.host, l]));
    assert.deepEqual(byHost.get(goodHost), { host: goodHost, maintenance: null });
    assert.match(String(byHost.get(badHost)?.error), /this needs deploy/);
    assert.deepEqual((lines[2] as { error: { code: string } }).error.code, 'hosts_failed');
  });

  it('a bad --message is a usage error (exit 2) and no server is contacted', async () => {
    const before = changes().length;
    for (const message of ['x'.repeat(1001), 'two\nlines', '  ', 'esc\u001b[2J']) {
      const res = await run(['maintenance', '--message', message]);
      assert.equal(res.code, 2, message.slice(0, 20));
      assert.match(res.stderr, /error: --message must/);
    }
    assert.equal(changes().length, before);
    const extra = await run(['live', 'now']);
    assert.equal(extra.code, 2);
  });
});
