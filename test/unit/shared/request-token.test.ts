import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { JWK } from '../../../shared/api-types.js';
import { AuthError, BerthError } from '../../../shared/errors.js';
import { generateIdentityKeys, generateOperatorKey, type OperatorKey } from '../../../shared/keys.js';
import { bodyHash, signRequest, tokenFromAuthorization, verifyRequest } from '../../../shared/request-token.js';
import { forgeJws, jwsPayload, withPayload, type ForgeSigner } from '../../support/jws-forge.js';

const NOW = 1_700_000_000;
const PATH = '/v1/releases?destination=x';
const BODY = new TextEncoder().encode('{"manifest":"x"}');
const TYP = 'berth-request+jwt';

let op: OperatorKey;
let stranger: OperatorKey;
let agent: string;
let otherAgent: string;

before(async () => {
  op = await generateOperatorKey('ops@laptop');
  stranger = await generateOperatorKey();
  agent = (await generateIdentityKeys()).agentId;
  otherAgent = (await generateIdentityKeys()).agentId;
});

const lookupKey = (kid: string): JWK | undefined => (kid === op.kid ? op.publicJwk : undefined);

function verify(token: string, over: Partial<Parameters<typeof verifyRequest>[1]> = {}) {
  return verifyRequest(token, { lookupKey, audience: agent, method: 'POST', pathAndQuery: PATH, body: BODY, now: NOW, ...over });
}

function claims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: op.kid, aud: agent, iat: NOW, exp: NOW + 30, jti: 'abcdefghijklmnopqrstuv', htm: 'POST', htu: PATH, bh: bodyHash(BODY), ...over };
}

function forged(payload: Record<string, unknown>, header: Record<string, unknown> = {}, signer?: ForgeSigner): string {
  return forgeJws({ alg: 'EdDSA', typ: TYP, kid: op.kid, ...header }, payload, signer ?? { ed25519: op.privateJwk });
}

async function refused(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthError, `expected AuthError, got ${String(e)}`);
    assert.equal(e.code, 'unauthorized');
    assert.equal(e.status, 401);
    assert.match(e.message, message);
    return true;
  });
}

describe('request tokens', () => {
  it('round-trips: the agent gets the signed claims back', async () => {
    const token = await signRequest({ privateJwk: op.privateJwk, kid: op.kid, aud: agent, method: 'post', pathAndQuery: PATH, body: BODY, now: NOW });
    const c = await verify(token);
    assert.equal(c.iss, op.kid);
    assert.equal(c.aud, agent);
    assert.equal(c.htm, 'POST');
    assert.equal(c.htu, PATH);
    assert.equal(c.exp, NOW + 30);
    assert.match(c.jti, /^[A-Za-z0-9_-]{22}$/);
  });

  it('signs an empty body as the hash of the empty string', async () => {
    const token = await signRequest({ privateJwk: op.privateJwk, kid: op.kid, aud: agent, method: 'GET', pathAndQuery: '/v1/services', body: '', now: NOW });
    assert.equal(jwsPayload(token).bh, '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
    await verify(token, { method: 'GET', pathAndQuery: '/v1/services', body: new Uint8Array() });
  });

  it('gives each token a fresh jti', async () => {
    const opts = { privateJwk: op.privateJwk, kid: op.kid, aud: agent, method: 'GET', pathAndQuery: '/', body: '', now: NOW };
    assert.notEqual(jwsPayload(await signRequest(opts)).jti, jwsPayload(await signRequest(opts)).jti);
  });

  it('accepts a hand-built token (positive control for the forged cases)', async () => {
    assert.equal((await verify(forged(claims()))).jti, 'abcdefghijklmnopqrstuv');
  });

  it('refuses an unsigned token (alg none)', async () => {
    await refused(verify(forgeJws({ alg: 'none', typ: TYP, kid: op.kid }, claims(), 'none')), /alg must be EdDSA, got "none"/);
    await refused(verify(forged(claims(), {}, 'none')), /request token is unsigned/);
  });

  it('refuses HS256 signed with the public key as the secret', async () => {
    for (const secret of [Buffer.from(op.publicJwk.x as string, 'base64url'), Buffer.from(JSON.stringify(op.publicJwk))]) {
      await refused(verify(forged(claims(), { alg: 'HS256' }, { hmacSecret: secret })), /alg must be EdDSA, got "HS256"/);
    }
  });

  it('refuses alg Ed25519 even with a valid signature', async () => {
    await refused(verify(forged(claims(), { alg: 'Ed25519' })), /alg must be EdDSA, got "Ed25519"/);
  });

  it('refuses a tampered payload or signature', async () => {
    const token = forged(claims());
    await refused(verify(withPayload(token, claims({ htu: '/v1/services' })), { pathAndQuery: '/v1/services' }), /signature verification failed/);
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    await refused(verify(`${h}.${p}.${flipped}`), /signature verification failed/);
  });

  it('refuses a key the agent does not know', async () => {
    const token = forged(claims({ iss: stranger.kid }), { kid: stranger.kid }, { ed25519: stranger.privateJwk });
    await refused(verify(token), new RegExp(`unknown key ${stranger.kid}`));
  });

  it('refuses a token whose kid is not its iss', async () => {
    await refused(verify(forged(claims({ iss: stranger.kid }))), /iss does not match kid/);
  });

  it('refuses the wrong typ', async () => {
    await refused(verify(forged(claims(), { typ: 'JWT' })), /typ must be berth-request\+jwt, got "JWT"/);
    await refused(verify(forged(claims(), { typ: 'berth-release+jwt' })), /typ must be berth-request\+jwt/);
  });

  it('refuses extra header parameters', async () => {
    await refused(verify(forged(claims(), { jwk: op.publicJwk })), /unexpected header parameter "jwk"/);
  });

  it('refuses an expired token', async () => {
    const token = forged(claims());
    await verify(token, { now: NOW + 29 });
    await refused(verify(token, { now: NOW + 30 }), /request token expired/);
  });

  it('refuses exp more than 60 s ahead', async () => {
    await verify(forged(claims({ exp: NOW + 60 })));
    await refused(verify(forged(claims({ exp: NOW + 61 }))), /exp is too far ahead \(61 s, max 60\)/);
  });

  it('refuses iat more than 30 s in the future', async () => {
    await verify(forged(claims({ iat: NOW + 30, exp: NOW + 60 })));
    await refused(verify(forged(claims({ iat: NOW + 31, exp: NOW + 60 }))), /iat is in the future by 31 s/);
  });

  it('refuses a token for another agent', async () => {
    await refused(verify(forged(claims({ aud: otherAgent }))), /audience is not this agent/);
  });

  it('refuses a token for another method, path or body', async () => {
    const token = forged(claims());
    await refused(verify(token, { method: 'DELETE' }), /htm does not match/);
    await refused(verify(token, { pathAndQuery: '/v1/releases?destination=y' }), /htu does not match/);
    await refused(verify(token, { body: new TextEncoder().encode('{"manifest":"y"}') }), /bh does not match/);
  });

  it('refuses a token missing any claim', async () => {
    for (const name of Object.keys(claims())) {
      const c = claims();
      delete c[name];
      await refused(verify(forged(c)), new RegExp(`missing claim ${name}$`));
    }
  });

  it('refuses extra claims', async () => {
    await refused(verify(forged(claims({ scope: 'admin' }))), /unexpected claim "scope"/);
  });

  it('refuses claims of the wrong type', async () => {
    await refused(verify(forged(claims({ iat: String(NOW) }))), /claim iat must be a non-negative integer/);
    await refused(verify(forged(claims({ exp: NOW + 0.5 }))), /claim exp must be a non-negative integer/);
    await refused(verify(forged(claims({ htm: ['POST'] }))), /claim htm must be a string/);
    await refused(verify(forged(claims({ jti: 'short' }))), /jti must be 16\.\.128/);
  });

  it('refuses malformed and oversized tokens before any crypto', async () => {
    await refused(verify('not-a-token'), /malformed request token/);
    await refused(verify('a.b.c.d'), /malformed request token/);
    await refused(verify('%%%.e30.sig'), /malformed request token header/);
    await refused(verify(`${forged(claims())}${'A'.repeat(9000)}`), /request token is too large/);
    await refused(verify(''), /missing request token/);
  });

  it('refuses a clock given in milliseconds', async () => {
    await assert.rejects(verify(forged(claims()), { now: NOW * 1000 }), (e: unknown) => e instanceof BerthError && /epoch seconds/.test(e.message));
  });

  it('reads the token from the Authorization header', () => {
    assert.equal(tokenFromAuthorization('Berth abc.def.ghi'), 'abc.def.ghi');
    assert.throws(() => tokenFromAuthorization(undefined), (e: unknown) => e instanceof AuthError && /missing Authorization/.test(e.message));
    assert.throws(() => tokenFromAuthorization('Bearer abc.def.ghi'), (e: unknown) => e instanceof AuthError && /Berth scheme/.test(e.message));
  });
});
