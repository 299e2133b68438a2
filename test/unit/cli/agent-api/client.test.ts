import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentClient, fetchPeerCertificate } from '../../../../cli/agent-api/client.js';
import { createKeyFile } from '../../../../cli/keys.js';
import { discoverAgent } from '../../../../cli/agent-api/pinning.js';
import { PinMismatchError } from '../../../../shared/errors.js';
import { verifyRequest } from '../../../../shared/request-token.js';
import { makeCert, startFakeAgent, tempDir, type FakeAgent, type TestCert } from '../../../support/cli-fixtures.js';

describe('pinned HTTPS client', () => {
  const dir = tempDir();
  let certA: TestCert;
  let certB: TestCert;
  let agent: FakeAgent;

  before(async () => {
    certA = makeCert(dir.path, 'agent-a');
    certB = makeCert(dir.path, 'agent-b');
    agent = await startFakeAgent(certA, {
      route: (req, res) => {
        res.writeHead(req.url === '/v1/conflict' ? 409 : 200, { 'content-type': 'application/json' });
        res.end(req.url === '/v1/conflict' ? JSON.stringify({ error: { code: 'locked', message: 'service is locked by deploy #3', hint: 'wait' } }) : JSON.stringify({ ok: true }));
      },
    });
  });
  after(async () => {
    await agent.close();
    dir.cleanup();
  });

  const address = () => ({ host: '127.0.0.1', port: agent.port });

  it('reads the peer certificate on first contact', async () => {
    const seen = await fetchPeerCertificate(address());
    assert.equal(seen.fingerprint, certA.fingerprint);
    assert.match(seen.pem, /^-----BEGIN CERTIFICATE-----/);
  });

  it('learns the agent identity over a connection pinned to that certificate', async () => {
    const found = await discoverAgent(address());
    assert.equal(found.label, `127.0.0.1:${agent.port}`);
    assert.equal(found.entry.agent_id, agent.agentId);
    assert.equal(found.entry.tls_fingerprint, certA.fingerprint);
    assert.deepEqual(found.entry.sealing_jwk, agent.keys.sealing.publicJwk);
    await assert.rejects(discoverAgent(address(), { expectedFingerprint: certB.fingerprint }), (e: unknown) => e instanceof PinMismatchError && e.message.includes(certA.fingerprint) && e.message.includes(certB.fingerprint));
  });

  it('sends signed requests the agent can verify when the pin matches', async () => {
    const key = await createKeyFile(`${dir.path}/key.jwk`, 'test', false);
    const client = new AgentClient({ address: address(), certificate: certA.cert, tlsFingerprint: certA.fingerprint }, { key, agentId: agent.agentId });
    const res = await client.json('POST', '/v1/things?x=1', { body: { a: 1 } });
    assert.deepEqual(res, { status: 200, body: { ok: true } });
    const sent = agent.requests.at(-1)!;
    const token = /^Berth (.+)$/.exec(String(sent.headers.authorization))?.[1];
    assert.ok(token);
    const claims = await verifyRequest(token, { lookupKey: (kid) => (kid === key.kid ? key.publicJwk : undefined), audience: agent.agentId, method: 'POST', pathAndQuery: '/v1/things?x=1', body: sent.body });
    assert.equal(claims.iss, key.kid);
    assert.equal(sent.body.toString(), '{"a":1}');
  });

  it('turns agent error bodies into typed errors naming the server', async () => {
    const client = new AgentClient({ address: address(), certificate: certA.cert, tlsFingerprint: certA.fingerprint });
    await assert.rejects(client.json('GET', '/v1/conflict', { auth: false }), (e: unknown) => {
      const err = e as { code: string; message: string; hint: string; status: number };
      return err.code === 'locked' && err.status === 409 && err.message === `127.0.0.1:${agent.port}: service is locked by deploy #3` && err.hint === 'wait';
    });
  });

  it('refuses a server presenting another certificate, with the pin-mismatch message', async () => {
    const client = new AgentClient({ address: address(), certificate: certB.cert, tlsFingerprint: certB.fingerprint });
    const before = agent.requests.length;
    await assert.rejects(client.json('GET', '/v1/identity', { auth: false }), (e: unknown) => e instanceof PinMismatchError && /presented a different TLS certificate .*its identity changed/.test(e.message) && /deploy server add 127\.0\.0\.1:\d+ --replace/.test(e.hint ?? ''));
    assert.equal(agent.requests.length, before, 'nothing reached the server');
  });

  it('refuses the right CA with the wrong pinned fingerprint', async () => {
    const client = new AgentClient({ address: address(), certificate: certA.cert, tlsFingerprint: certB.fingerprint });
    await assert.rejects(client.json('GET', '/v1/identity', { auth: false }), PinMismatchError);
  });

  it('names the server when it cannot be reached', async () => {
    const client = new AgentClient({ address: { host: '127.0.0.1', port: 1 }, certificate: certA.cert, tlsFingerprint: certA.fingerprint });
    await assert.rejects(client.json('GET', '/v1/health', { auth: false }), /cannot reach the agent at 127\.0\.0\.1:1: connection refused/);
  });
});
