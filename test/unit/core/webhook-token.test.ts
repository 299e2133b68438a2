import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findWebhookTarget, webhookToken, webhookTokenKey } from '../../../agent/core/webhook-token.js';
import { generateIdentityKeys } from '../../../shared/keys.js';

describe('webhook TOKEN', () => {
  it('is 256 bits of base64url, stable per agent key and per service and destination, and found only for its target', async () => {
    const [a, b] = await Promise.all([generateIdentityKeys(), generateIdentityKeys()]);
    const key = webhookTokenKey(a.sealing.privateJwk);
    const known = [{ service: 'web', destination: '' }, { service: 'web', destination: 'eu' }, { service: 'api', destination: '' }];
    const tokens = known.map((t) => webhookToken(key, t));
    for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(new Set(tokens).size, 3);
    assert.equal(webhookToken(webhookTokenKey(a.sealing.privateJwk), known[0]!), tokens[0], 'stable');
    assert.notEqual(webhookToken(webhookTokenKey(b.sealing.privateJwk), known[0]!), tokens[0], 'another agent, another token');
    known.forEach((t, i) => assert.equal(findWebhookTarget(key, tokens[i]!, known), t));
    assert.equal(findWebhookTarget(key, tokens[0]!.slice(0, 42) + (tokens[0]!.endsWith('A') ? 'B' : 'A'), known), undefined);
    assert.equal(findWebhookTarget(key, 'x', known), undefined);
    assert.equal(findWebhookTarget(key, tokens[0]!, []), undefined);
  });
});
