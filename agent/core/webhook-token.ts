// PURE: the TOKEN in a webhook path, /.berth/webhooks/SOURCE/TOKEN. It is an
// HMAC of the service and destination under a key derived (HKDF, its own
// label) from the agent's sealing private key, so the agent stores nothing,
// the value is stable across restarts and releases, and nobody without the
// agent's key can compute or guess one. A TOKEN is a credential: it is never
// logged or audited, and only `GET /v1/services/:name/webhook` (scope deploy)
// hands it out.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { JWK } from '../../shared/api-types.js';

const KEY_INFO = 'berth.webhook-token.v1';
/** 256 bits, base64url: 43 characters. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export interface TokenTarget {
  service: string;
  destination: string;
}

export function webhookTokenKey(sealingPrivateJwk: JWK): Buffer {
  const d = typeof sealingPrivateJwk.d === 'string' ? sealingPrivateJwk.d : '';
  if (d === '') throw new Error('the sealing key has no private part');
  return Buffer.from(hkdfSync('sha256', Buffer.from(d, 'base64url'), Buffer.alloc(0), KEY_INFO, 32));
}

function tokenBytes(key: Uint8Array, target: TokenTarget): Buffer {
  // JSON keeps the two names apart (no "a-b"+"c" = "a"+"b-c" collisions).
  return createHmac('sha256', key).update(JSON.stringify([target.service, target.destination])).digest();
}

export function webhookToken(key: Uint8Array, target: TokenTarget): string {
  return tokenBytes(key, target).toString('base64url');
}

/**
 * The target among `known` whose token `token` is, or undefined. Every known
 * target is compared, in constant time, whatever matched first, so the time
 * taken says nothing about which service (or how much of a token) matched.
 */
export function findWebhookTarget<T extends TokenTarget>(key: Uint8Array, token: string, known: readonly T[]): T | undefined {
  if (!TOKEN_SHAPE.test(token)) return undefined;
  const given = Buffer.from(token, 'base64url');
  // 43 characters carry 258 bits: the last one has 2 spare bits, so four spellings decode to
  // the same bytes. Only the one the agent hands out names a service.
  if (given.toString('base64url') !== token) return undefined;
  let found: T | undefined;
  for (const target of known) {
    if (timingSafeEqual(given, tokenBytes(key, target)) && found === undefined) found = target;
  }
  return found;
}
