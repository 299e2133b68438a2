// deploy webhook deliveries against two local fake agents (real HTTPS,
// pinned): a block of rows per server, the limit sent, --json per host, an
// agent without the route named as outdated, and bad -n refused with exit 2.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WebhookDelivery } from '../../../shared/api-types.js';
import { cliRunner, tempDir, type FakeAgent, type RecordedRequest, startAgentPair } from '../../support/cli-fixtures.js';

const DEPLOYED: WebhookDelivery = {
  id: 'whd_one', at: '2026-11-22T10:00:05.000Z', service: 'demo', destination: '', source: 'github', sender_delivery_id: 'gh-1',
  outcome: 'deployed', reason: 'release main-bbbbbbbbbbbb', tag: 'main', digest: `sha256:${'b'.repeat(64)}`, deploy_id: 7,
};
const IGNORED: WebhookDelivery = {
  ...DEPLOYED, id: 'whd_two', at: '2026-11-22T10:00:01.000Z', outcome: 'ignored', reason: 'untracked tag dev (policy: main)', tag: 'dev', digest: null, deploy_id: null,
};

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function routesFor(name: 'A' | 'B', modes: { bOutdated: boolean }) {
  return (req: RecordedRequest, res: ServerResponse) => {
    if (req.method === 'GET' && req.url.startsWith('/v1/services/demo/webhook/deliveries?destination=&limit=')) {
      if (name === 'B' && modes.bOutdated) return reply(res, 404, { error: { code: 'not_found', message: `no route for GET ${req.url}` } });
      return reply(res, 200, { deliveries: name === 'A' ? [DEPLOYED, IGNORED] : [] });
    }
    reply(res, 404, { error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  };
}

describe('deploy webhook deliveries', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const modes = { bOutdated: false };
  let a: FakeAgent;
  let b: FakeAgent;
  let hostA: string;
  let hostB: string;
  const run = cliRunner(dir.path, xdg);
  const asked = () => [...a.requests, ...b.requests].filter((r) => r.url.includes('/webhook/deliveries'));

  before(async () => {
    ({ a, b, hostA, hostB } = await startAgentPair(dir.path, run, (name) => routesFor(name, modes)));
  });
  after(async () => {
    await a.close();
    await b.close();
    dir.cleanup();
  });

  it('shows each server\'s deliveries, asking for at most N', async () => {
    const res = await run(['webhook', 'deliveries', '-n', '5']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +ID +TIME +SOURCE +TAG +OUTCOME +DIGEST\/DEPLOY +REASON$/);
    assert.match(lines[1]!, new RegExp(`^${hostA} +whd_one +2026-11-22 10:00:05 +github +main +deployed +deploy 7 +release main-bbbbbbbbbbbb$`));
    assert.match(lines[2]!, new RegExp(`^${hostA} +whd_two +2026-11-22 10:00:01 +github +dev +ignored +- +untracked tag dev \\(policy: main\\)$`));
    assert.match(lines[3]!, new RegExp(`^${hostB} +(- +){6}no deliveries$`));
    assert.ok(asked().length === 2 && asked().every((r) => r.url.endsWith('&limit=5')));
    const json = JSON.parse((await run(['webhook', 'deliveries', '--json'])).stdout);
    assert.deepEqual(json, { service: 'demo', destination: '', servers: [{ host: hostA, deliveries: [DEPLOYED, IGNORED] }, { host: hostB, deliveries: [] }] });
  });

  it('an agent without the route is named as outdated; exit 1', async () => {
    modes.bOutdated = true;
    const res = await run(['webhook', 'deliveries']);
    modes.bOutdated = false;
    assert.equal(res.code, 1);
    assert.match(res.stdout, /whd_one/);
    assert.match(res.stderr, /upgrade the agent/);
  });

  it('refuses a bad -n with exit 2 and asks nothing', async () => {
    const before = asked().length;
    for (const n of ['0', '201', 'x', '-1', '2.5']) assert.equal((await run(['webhook', 'deliveries', '-n', n])).code, 2, n);
    assert.equal(asked().length, before);
  });
});
