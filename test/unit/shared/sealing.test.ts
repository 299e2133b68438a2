import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { generateIdentityKeys, type IdentityKeys } from '../../../shared/keys.js';
import { seal, unseal } from '../../../shared/sealing.js';
import { jwsHeader } from '../../support/jws-forge.js';

let agent: IdentityKeys;
let other: IdentityKeys;

before(async () => {
  agent = await generateIdentityKeys();
  other = await generateIdentityKeys();
});

function unsealFails(p: Promise<unknown>, message: RegExp): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    assert.equal(e.code, 'unseal_failed');
    assert.match(e.message, message);
    return true;
  });
}

describe('sealing', () => {
  it('round-trips a secret through the agent key', async () => {
    const jwe = await seal('p@ss wörd', agent.sealing.publicJwk);
    assert.equal(jwe.split('.').length, 5);
    assert.equal(jwe.split('.')[1], '', 'ECDH-ES has no encrypted key');
    const header = jwsHeader(jwe);
    assert.equal(header.alg, 'ECDH-ES');
    assert.equal(header.enc, 'A256GCM');
    assert.ok(!jwe.includes('p@ss'));
    assert.equal(await unseal(jwe, agent.sealing.privateJwk), 'p@ss wörd');
  });

  it('seals the same value differently each time', async () => {
    assert.notEqual(await seal('x', agent.sealing.publicJwk), await seal('x', agent.sealing.publicJwk));
  });

  it('fails with another agent key', async () => {
    const jwe = await seal('secret', agent.sealing.publicJwk);
    await unsealFails(unseal(jwe, other.sealing.privateJwk), /decryption failed/);
  });

  it('fails on a tampered ciphertext', async () => {
    const parts = (await seal('secret value', agent.sealing.publicJwk)).split('.');
    const ct = parts[3] as string;
    parts[3] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    await unsealFails(unseal(parts.join('.'), agent.sealing.privateJwk), /decryption failed/);
  });

  it('fails on garbage and oversized input', async () => {
    await unsealFails(unseal('not.a.jwe', agent.sealing.privateJwk), /malformed JWE/);
    await unsealFails(unseal('x'.repeat(200 * 1024), agent.sealing.privateJwk), /at most/);
  });

  it('refuses to seal to an Ed25519 key', async () => {
    await assert.rejects(seal('x', agent.identity.publicJwk), /must be an OKP X25519 key/);
  });
});
