import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findWebhookTarget, webhookToken, webhookTokenKey } from '../../../agent/core/webhook-token.js';
import { generateIdentityKeys } from '../../../shared/keys.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The token with its last character's 6-bit value XORed by `bits`. */
function lastCharXor(token: string, bits: number): string {
  return token.slice(0, -1) + ALPHABET[ALPHABET.indexOf(token.at(-1)!) ^ bits];
}

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
    assert.equal(findWebhookTarget(key, lastCharXor(tokens[0]!, 0b100), known), undefined, 'a changed bit');
    assert.equal(findWebhookTarget(key, 'x', known), undefined);
    assert.equal(findWebhookTarget(key, tokens[0]!, []), undefined);
  });

  it('names a service only as the agent spells it: the other spellings of the same 256 bits are refused', async () => {
    const key = webhookTokenKey((await generateIdentityKeys()).sealing.privateJwk);
    const known = [{ service: 'web', destination: '' }];
    const token = webhookToken(key, known[0]!);
    // The last of 43 characters carries 4 bits of the HMAC and 2 spare bits.
    for (const spare of [0b01, 0b10, 0b11]) {
      const other = lastCharXor(token, spare);
      assert.deepEqual(Buffer.from(other, 'base64url'), Buffer.from(token, 'base64url'), 'the same bytes');
      assert.equal(findWebhookTarget(key, other, known), undefined, other);
    }
    assert.equal(findWebhookTarget(key, token, known), known[0]);
  });
});
