import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient } from '../../../../cli/agent-api/client.js';
import { followDeploy } from '../../../../cli/agent-api/follow-deploy.js';
import { createKeyFile, type OperatorKeyFile } from '../../../../cli/keys.js';
import type { DeployEvent } from '../../../../shared/api-types.js';
import { makeCert, startFakeAgent, tempDir, type FakeAgent, type TestCert } from '../../../support/cli-fixtures.js';

const event = (id: number, state: string) => `id: ${id}\nevent: progress\ndata: ${JSON.stringify({ id, deploy_id: 1, at: '', state, message: `m${id}` })}\n\n`;
const end = (state: string) => `event: end\ndata: ${JSON.stringify({ id: 1, service: 's', destination: '', version: 'v', seq: 1, image: 'i', state, error: null, key_id: 'k', created_at: '', updated_at: '' })}\n\n`;

describe('following a deploy', () => {
  const dir = tempDir();
  let cert: TestCert;
  let agent: FakeAgent;
  let key: OperatorKeyFile;
  let script: string[] = [];
  let mode: 'stream' | 'forbidden' | 'dead' = 'stream';

  before(async () => {
    cert = makeCert(dir.path, 'a');
    key = await createKeyFile(`${dir.path}/k.jwk`, '', false);
    agent = await startFakeAgent(cert, {
      route: (req, res) => {
        if (req.url === '/v1/deploys/1') {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ deploy: JSON.parse(end('DONE').split('data: ')[1]!), events: [] }));
        }
        if (mode === 'forbidden') {
          res.writeHead(403, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { code: 'forbidden', message: 'key lacks read scope' } }));
        }
        if (mode === 'dead') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          return res.end(': nothing\n\n');
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(script.shift() ?? '');
      },
    });
  });
  after(async () => {
    await agent.close();
    dir.cleanup();
  });

  const client = () => new AgentClient({ address: { host: '127.0.0.1', port: agent.port }, certificate: cert.cert, tlsFingerprint: cert.fingerprint }, { key, agentId: agent.agentId });

  it('resumes with Last-Event-ID after a disconnect and shows each event once', async () => {
    mode = 'stream';
    script = [event(1, 'VERIFIED') + event(2, 'PULLED'), event(2, 'PULLED') + event(3, 'DONE') + end('DONE')];
    agent.requests.length = 0;
    const seen: DeployEvent[] = [];
    const record = await followDeploy(client(), 1, { onEvent: (e) => seen.push(e), sleep: async () => undefined });
    assert.equal(record.state, 'DONE');
    assert.deepEqual(seen.map((e) => e.id), [1, 2, 3]);
    const streams = agent.requests.filter((r) => r.url === '/v1/deploys/1/events');
    assert.equal(streams.length, 2);
    assert.equal(streams[0]!.headers['last-event-id'], undefined);
    assert.equal(streams[1]!.headers['last-event-id'], '2');
  });

  it('stops at once when the agent refuses', async () => {
    mode = 'forbidden';
    await assert.rejects(followDeploy(client(), 1, { onEvent: () => undefined, sleep: async () => undefined }), /key lacks read scope/);
  });

  it('reads the deploy record when the stream keeps ending without events', async () => {
    mode = 'dead';
    const record = await followDeploy(client(), 1, { onEvent: () => undefined, sleep: async () => undefined, maxReconnects: 2 });
    assert.equal(record.state, 'DONE');
  });
});
