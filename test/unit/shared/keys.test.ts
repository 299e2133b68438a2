import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { generateIdentityKeys, generateOperatorKey, keyLine, parseKeyLine, thumbprint } from '../../../shared/keys.js';

const X = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'; // RFC 8037 A.2 public key
const X_KID = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k'; // its RFC 8037 A.3 thumbprint

async function refused(line: string, message: RegExp): Promise<void> {
  await assert.rejects(parseKeyLine(line), (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
    assert.equal(e.code, 'invalid_input');
    assert.match(e.message, message);
    return true;
  });
}

describe('keys', () => {
  it('computes the RFC 8037 thumbprint', async () => {
    assert.equal(await thumbprint({ kty: 'OKP', crv: 'Ed25519', x: X }), X_KID);
  });

  it('generates an operator key whose line parses back to the same key', async () => {
    const k = await generateOperatorKey('ops@laptop');
    assert.equal(k.kid, await thumbprint(k.publicJwk));
    assert.equal(k.privateJwk.kid, k.kid);
    assert.equal(typeof k.privateJwk.d, 'string');
    assert.equal(k.publicJwk.d, undefined);
    assert.equal(k.line, `berth-ed25519 ${k.publicJwk.x} ops@laptop`);
    const parsed = await parseKeyLine(k.line);
    assert.deepEqual(parsed, { jwk: { kty: 'OKP', crv: 'Ed25519', x: k.publicJwk.x }, kid: k.kid, comment: 'ops@laptop' });
  });

  it('parses lines with no comment, a spaced comment and a pasted newline', async () => {
    assert.deepEqual(await parseKeyLine(`berth-ed25519 ${X}`), { jwk: { kty: 'OKP', crv: 'Ed25519', x: X }, kid: X_KID, comment: '' });
    assert.equal((await parseKeyLine(`berth-ed25519 ${X} Ana María (CI key)`)).comment, 'Ana María (CI key)');
    assert.equal((await parseKeyLine(`berth-ed25519 ${X} ci\n`)).comment, 'ci');
  });

  it('refuses another prefix, naming what it got', async () => {
    await refused(`ssh-ed25519 ${X} me@host`, /must start with "berth-ed25519 ", got "ssh-ed25519"/);
    await refused(`BERTH-ED25519 ${X}`, /must start with "berth-ed25519 "/);
    await refused('', /got an empty line/);
    await refused(`berth-ed25519\t${X}`, /must start with "berth-ed25519 "/);
  });

  it('refuses a public key that is not 32 bytes of canonical base64url', async () => {
    await refused(`berth-ed25519 ${X.slice(1)}`, /43 base64url characters encoding 32 bytes/);
    await refused(`berth-ed25519 ${X}A`, /43 base64url/);
    await refused(`berth-ed25519 ${X.slice(0, 42)}B`, /43 base64url/); // non-zero padding bits
    await refused(`berth-ed25519 ${X.slice(0, 42).replace('_', '/')}o`, /43 base64url/);
    await refused(`berth-ed25519  ${X}`, /43 base64url/);
  });

  it('refuses comments with control or invisible characters, or too long', async () => {
    await refused(`berth-ed25519 ${X} me\u0007bell`, /control or invisible characters/);
    await refused(`berth-ed25519 ${X} me\tx`, /control or invisible characters/);
    await refused(`berth-ed25519 ${X} admin\u202egnp.exe`, /control or invisible characters/);
    await refused(`berth-ed25519 ${X} ${'c'.repeat(201)}`, /comment is too long \(max 200/);
    assert.equal((await parseKeyLine(`berth-ed25519 ${X} ${'c'.repeat(200)}`)).comment.length, 200);
    await refused(`berth-ed25519 ${X} ${'c'.repeat(2000)}`, /key line is too long/);
  });

  it('keyLine refuses a bad comment and a non-Ed25519 key', async () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', x: X };
    assert.equal(keyLine(jwk, 'a b'), `berth-ed25519 ${X} a b`);
    assert.throws(() => keyLine(jwk, 'a\nb'), UserError);
    assert.throws(() => keyLine({ kty: 'OKP', crv: 'X25519', x: X }, ''), /must be an OKP Ed25519 key/);
  });

  it('generates agent identity and sealing keys', async () => {
    const keys = await generateIdentityKeys();
    assert.equal(keys.agentId, await thumbprint(keys.identity.publicJwk));
    assert.equal(keys.identity.publicJwk.crv, 'Ed25519');
    assert.equal(keys.sealing.publicJwk.crv, 'X25519');
    assert.equal(typeof keys.sealing.privateJwk.d, 'string');
    assert.notEqual(keys.identity.publicJwk.x, keys.sealing.publicJwk.x);
  });
});
