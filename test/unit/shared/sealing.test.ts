import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { SealBindingError, UserError } from '../../../shared/errors.js';
import { generateIdentityKeys, type IdentityKeys } from '../../../shared/keys.js';
import { openSealed, seal, unseal, type SealBinding } from '../../../shared/sealing.js';
import { sealUnbound } from '../../support/legacy-seal.js';
import { jwsHeader } from '../../support/jws-forge.js';

const WEB_TOKEN: SealBinding = { use: 'env', service: 'app', destination: '', role: 'web', name: 'TOKEN' };

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
    const jwe = await seal('p@ss wörd', agent.sealing.publicJwk, WEB_TOKEN);
    assert.equal(jwe.split('.').length, 5);
    assert.equal(jwe.split('.')[1], '', 'ECDH-ES has no encrypted key');
    const header = jwsHeader(jwe);
    assert.equal(header.alg, 'ECDH-ES');
    assert.equal(header.enc, 'A256GCM');
    assert.ok(!jwe.includes('p@ss'));
    assert.equal(await unseal(jwe, agent.sealing.privateJwk, WEB_TOKEN), 'p@ss wörd');
  });

  it('seals the same value differently each time', async () => {
    assert.notEqual(await seal('x', agent.sealing.publicJwk, WEB_TOKEN), await seal('x', agent.sealing.publicJwk, WEB_TOKEN));
  });

  it('fails with another agent key', async () => {
    const jwe = await seal('secret', agent.sealing.publicJwk, WEB_TOKEN);
    await unsealFails(unseal(jwe, other.sealing.privateJwk, WEB_TOKEN), /decryption failed/);
  });

  it('fails on a tampered ciphertext', async () => {
    const parts = (await seal('secret value', agent.sealing.publicJwk, WEB_TOKEN)).split('.');
    const ct = parts[3] as string;
    parts[3] = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    await unsealFails(unseal(parts.join('.'), agent.sealing.privateJwk, WEB_TOKEN), /decryption failed/);
  });

  it('fails on garbage and oversized input', async () => {
    await unsealFails(unseal('not.a.jwe', agent.sealing.privateJwk, WEB_TOKEN), /malformed JWE/);
    await unsealFails(unseal('x'.repeat(200 * 1024), agent.sealing.privateJwk, WEB_TOKEN), /at most/);
  });

  it('refuses to seal to an Ed25519 key', async () => {
    await assert.rejects(seal('x', agent.identity.publicJwk, WEB_TOKEN), /must be an OKP X25519 key/);
  });

  it('binds the value to its use in the authenticated header, and opens it only for that use', async () => {
    const jwe = await seal('pl41n-v4lue', agent.sealing.publicJwk, WEB_TOKEN);
    const header = jwsHeader(jwe);
    assert.deepEqual(header.crit, ['berth']);
    assert.deepEqual(header.berth, { use: 'env', service: 'app', destination: '', role: 'web', name: 'TOKEN' });
    assert.deepEqual(await openSealed(jwe, agent.sealing.privateJwk, WEB_TOKEN), { value: 'pl41n-v4lue', bound: true });
    const others: SealBinding[] = [
      { ...WEB_TOKEN, service: 'other' },
      { ...WEB_TOKEN, destination: 'staging' },
      { ...WEB_TOKEN, role: 'worker' },
      { ...WEB_TOKEN, name: 'OTHER' },
      { use: 'registry-password', service: 'app', destination: '', server: 'ghcr.io' },
    ];
    for (const expected of others) {
      await assert.rejects(unseal(jwe, agent.sealing.privateJwk, expected), (e: unknown) => {
        assert.ok(e instanceof SealBindingError, String(e));
        assert.equal(e.code, 'seal_mismatch');
        assert.match(e.message, /was sealed for env TOKEN of role web of service app \(destination ""\)/);
        assert.ok(!JSON.stringify(e.toBody()).includes('pl41n-v4lue'));
        return true;
      });
    }
  });

  it('a rewritten binding does not open: the header is authenticated', async () => {
    const parts = (await seal('secret', agent.sealing.publicJwk, WEB_TOKEN)).split('.');
    const header = jwsHeader(parts.join('.'));
    header.berth = { ...(header.berth as object), service: 'other' };
    parts[0] = Buffer.from(JSON.stringify(header)).toString('base64url');
    await unsealFails(unseal(parts.join('.'), agent.sealing.privateJwk, { ...WEB_TOKEN, service: 'other' }), /decryption failed/);
  });

  it('an unbound value (older CLIs) opens, and says it is unbound', async () => {
    const jwe = await sealUnbound('old', agent.sealing.publicJwk);
    assert.deepEqual(await openSealed(jwe, agent.sealing.privateJwk, WEB_TOKEN), { value: 'old', bound: false });
  });
});
