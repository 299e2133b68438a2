// The one adapter around `jose`. Callers hand in plain JWKs and bytes; every
// jose error leaves this file as an AuthError/UserError with a readable message,
// because jose's own messages and codes are not meant for end users.
import {
  CompactEncrypt,
  CompactSign,
  calculateJwkThumbprint,
  compactDecrypt,
  compactVerify,
  exportJWK,
  generateKeyPair,
  importJWK,
  errors as joseErrors,
} from 'jose';
import type { JWK } from './api-types.js';
import { AuthError, UserError } from './errors.js';

export type { JWK } from './api-types.js';

export type OkpCurve = 'Ed25519' | 'X25519';

const B64URL_32_BYTES = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** True when `value` is canonical base64url of exactly 32 bytes (43 characters). */
export function isBase64Url32(value: unknown): value is string {
  return typeof value === 'string' && B64URL_32_BYTES.test(value);
}

/**
 * Keeps only the members that define the key, so stray `alg`, `use` or
 * `key_ops` members cannot change how jose imports it.
 */
function okpKey(jwk: JWK, crv: OkpCurve, withPrivate: boolean, what: string): JWK {
  if (jwk === null || typeof jwk !== 'object') throw new UserError(`${what} is not a JWK object`);
  if (jwk.kty !== 'OKP' || jwk.crv !== crv) throw new UserError(`${what} must be an OKP ${crv} key`);
  if (!isBase64Url32(jwk.x)) throw new UserError(`${what} has a malformed "x" (expected 32 bytes base64url)`);
  if (!withPrivate) return { kty: 'OKP', crv, x: jwk.x };
  if (!isBase64Url32(jwk.d)) throw new UserError(`${what} is not a private key (missing or malformed "d")`);
  return { kty: 'OKP', crv, x: jwk.x, d: jwk.d };
}

/** The public half of an OKP key, validated; throws UserError when malformed. */
export function publicOkpJwk(jwk: JWK, crv: OkpCurve, what = 'key'): JWK {
  return okpKey(jwk, crv, false, what);
}

async function generateOkp(alg: 'Ed25519' | 'ECDH-ES', crv: OkpCurve): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const pair = await generateKeyPair(alg, { crv, extractable: true });
  const priv = await exportJWK(pair.privateKey);
  const pub = await exportJWK(pair.publicKey);
  return {
    privateJwk: okpKey(priv as JWK, crv, true, 'generated key'),
    publicJwk: okpKey(pub as JWK, crv, false, 'generated key'),
  };
}

export function generateEd25519(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  return generateOkp('Ed25519', 'Ed25519');
}

export function generateX25519(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  return generateOkp('ECDH-ES', 'X25519');
}

/** RFC 7638 thumbprint (SHA-256, base64url) of an Ed25519 or X25519 public key. */
export async function jwkThumbprint(jwk: JWK): Promise<string> {
  const crv = jwk?.crv === 'X25519' ? 'X25519' : 'Ed25519';
  const pub = okpKey(jwk, crv, false, 'key');
  return calculateJwkThumbprint({ kty: 'OKP', crv, x: pub.x as string }, 'sha256');
}

export interface SigningHeader {
  typ: string;
  kid: string;
}

/** Compact JWS over `payload` with exactly `{ alg: 'EdDSA', typ, kid }` as protected header. */
export async function signCompactJws(payload: Uint8Array, header: SigningHeader, privateJwk: JWK): Promise<string> {
  const key = await importJWK(okpKey(privateJwk, 'Ed25519', true, 'signing key'), 'EdDSA');
  return new CompactSign(payload)
    .setProtectedHeader({ alg: 'EdDSA', typ: header.typ, kid: header.kid })
    .sign(key);
}

/**
 * Verifies the signature of a compact JWS with an Ed25519 public key, allowing
 * only `alg: 'EdDSA'`. Returns the payload bytes. Header and claim checks are
 * the caller's (see signed-token.ts); this only answers "did this key sign it".
 */
export async function verifyCompactJws(jws: string, publicJwk: JWK): Promise<Uint8Array> {
  let key;
  try {
    key = await importJWK(okpKey(publicJwk, 'Ed25519', false, 'verification key'), 'EdDSA');
  } catch (e) {
    throw new AuthError(`verification key is unusable: ${e instanceof UserError ? e.message : 'import failed'}`);
  }
  try {
    const { payload } = await compactVerify(jws, key, { algorithms: ['EdDSA'] });
    return payload;
  } catch (e) {
    throw new AuthError(describeJoseFailure(e, 'signature'));
  }
}

const MAX_PLAINTEXT_BYTES = 64 * 1024;
// Members jose sets or interprets itself; an extension must not be able to set them.
const RESERVED_JWE_MEMBERS = new Set(['alg', 'enc', 'epk', 'apu', 'apv', 'zip', 'crit', 'kid', 'jku', 'jwk', 'x5u', 'x5c', 'x5t', 'typ', 'cty']);

/**
 * JWE compact, `ECDH-ES` + `A256GCM`, to an X25519 public key. `extension`
 * adds one critical protected-header member: it is authenticated with the
 * ciphertext, and a recipient that does not understand it cannot decrypt.
 */
export async function encryptCompactJwe(
  plaintext: Uint8Array,
  publicJwk: JWK,
  extension?: { name: string; value: Record<string, string> },
): Promise<string> {
  if (plaintext.byteLength > MAX_PLAINTEXT_BYTES) {
    throw new UserError(`value to seal is too large (${plaintext.byteLength} bytes, max ${MAX_PLAINTEXT_BYTES})`);
  }
  if (extension && RESERVED_JWE_MEMBERS.has(extension.name)) throw new UserError(`"${extension.name}" is a reserved JWE header member`);
  const key = await importJWK(okpKey(publicJwk, 'X25519', false, 'sealing key'), 'ECDH-ES');
  const header = { alg: 'ECDH-ES', enc: 'A256GCM', ...(extension ? { crit: [extension.name], [extension.name]: extension.value } : {}) };
  return new CompactEncrypt(plaintext)
    .setProtectedHeader(header)
    .encrypt(key, extension ? { crit: { [extension.name]: true } } : undefined);
}

export interface DecryptedJwe {
  plaintext: Uint8Array;
  /** The member `extension` names in the protected header (authenticated), when present. */
  extension: unknown;
}

/** Decrypts; `extension` is the one critical header member this caller understands. */
export async function decryptCompactJwe(jwe: string, privateJwk: JWK, extension?: string): Promise<DecryptedJwe> {
  const key = await importJWK(okpKey(privateJwk, 'X25519', true, 'sealing key'), 'ECDH-ES');
  try {
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, key, {
      keyManagementAlgorithms: ['ECDH-ES'],
      contentEncryptionAlgorithms: ['A256GCM'],
      ...(extension ? { crit: { [extension]: true } } : {}),
    });
    return { plaintext, extension: extension ? (protectedHeader as Record<string, unknown>)[extension] : undefined };
  } catch (e) {
    throw new UserError(describeJoseFailure(e, 'decryption'), 'the value was not sealed to this agent\'s key', 'unseal_failed');
  }
}

function describeJoseFailure(e: unknown, what: 'signature' | 'decryption'): string {
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (e instanceof joseErrors.JWEDecryptionFailed) return 'decryption failed (wrong key or tampered value)';
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return `${what === 'signature' ? 'alg must be EdDSA' : 'alg must be ECDH-ES with enc A256GCM'}`;
  if (e instanceof joseErrors.JOSENotSupported) return `unsupported ${what} parameters`;
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWEInvalid) return `malformed ${what === 'signature' ? 'JWS' : 'JWE'}`;
  return `${what} failed`;
}
