// Operator and agent keys, and the one-line public key format an operator
// pastes into `berth-agent trust add` (`berth-ed25519 <x> <comment>`).
import type { JWK } from './api-types.js';
import { UserError } from './errors.js';
import { generateEd25519, generateX25519, isBase64Url32, jwkThumbprint, publicOkpJwk } from './jose.js';

export type { JWK } from './api-types.js';

export const KEY_LINE_PREFIX = 'berth-ed25519';
export const MAX_COMMENT_CHARS = 200;
const MAX_LINE_CHARS = KEY_LINE_PREFIX.length + 1 + 43 + 1 + MAX_COMMENT_CHARS * 2;

// Control and invisible formatting characters (bidi overrides included) would
// let a comment hide or disguise what an operator is approving.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u;

export interface KeyPair {
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface OperatorKey extends KeyPair {
  kid: string;
  line: string;
}

export interface ParsedKeyLine {
  jwk: JWK;
  kid: string;
  comment: string;
}

/** RFC 7638 thumbprint of a public key: the key id (`kid`) and the agent id. */
export function thumbprint(publicJwk: JWK): Promise<string> {
  return jwkThumbprint(publicJwk);
}

function checkComment(comment: string): void {
  if ([...comment].length > MAX_COMMENT_CHARS) throw new UserError(`key comment is too long (max ${MAX_COMMENT_CHARS} characters)`);
  if (UNPRINTABLE.test(comment)) throw new UserError('key comment contains control or invisible characters');
  if (comment !== comment.trim()) throw new UserError('key comment must not start or end with whitespace');
}

/** The public key line; `comment` may be empty (the CLI passes user@hostname). */
export function keyLine(publicJwk: JWK, comment: string): string {
  const pub = publicOkpJwk(publicJwk, 'Ed25519', 'operator key');
  checkComment(comment);
  return comment === '' ? `${KEY_LINE_PREFIX} ${pub.x}` : `${KEY_LINE_PREFIX} ${pub.x} ${comment}`;
}

/** Parses a public key line strictly; surrounding whitespace (a pasted newline) is ignored. */
export async function parseKeyLine(line: string): Promise<ParsedKeyLine> {
  if (typeof line !== 'string') throw new UserError('key line must be a string');
  if (line.length > MAX_LINE_CHARS) throw new UserError(`key line is too long (max ${MAX_LINE_CHARS} characters)`);
  const text = line.trim();
  const hint = `expected "${KEY_LINE_PREFIX} <public key> [comment]", as printed by \`deploy keys new\``;
  if (!text.startsWith(`${KEY_LINE_PREFIX} `)) {
    const first = text.split(/\s/, 1)[0] ?? '';
    const got = first === '' ? 'an empty line' : JSON.stringify(first.slice(0, 40));
    throw new UserError(`key line must start with "${KEY_LINE_PREFIX} ", got ${got}`, hint);
  }
  const rest = text.slice(KEY_LINE_PREFIX.length + 1);
  const space = rest.indexOf(' ');
  const x = space === -1 ? rest : rest.slice(0, space);
  const comment = space === -1 ? '' : rest.slice(space + 1);
  if (!isBase64Url32(x)) throw new UserError('key line: public key must be 43 base64url characters encoding 32 bytes', hint);
  checkComment(comment);
  const jwk: JWK = { kty: 'OKP', crv: 'Ed25519', x };
  return { jwk, kid: await thumbprint(jwk), comment };
}

/** A new operator key; the private JWK carries its `kid` as stored on disk. */
export async function generateOperatorKey(comment = ''): Promise<OperatorKey> {
  checkComment(comment);
  const { privateJwk, publicJwk } = await generateEd25519();
  const kid = await thumbprint(publicJwk);
  return { privateJwk: { ...privateJwk, kid }, publicJwk, kid, line: keyLine(publicJwk, comment) };
}

export interface IdentityKeys {
  identity: KeyPair;
  sealing: KeyPair;
  agentId: string;
}

/** An agent's Ed25519 identity key and X25519 sealing key; agent id = identity thumbprint. */
export async function generateIdentityKeys(): Promise<IdentityKeys> {
  const identity = await generateEd25519();
  const sealing = await generateX25519();
  const agentId = await thumbprint(identity.publicJwk);
  const sealingKid = await thumbprint(sealing.publicJwk);
  return {
    identity: { privateJwk: { ...identity.privateJwk, kid: agentId }, publicJwk: identity.publicJwk },
    sealing: { privateJwk: { ...sealing.privateJwk, kid: sealingKid }, publicJwk: sealing.publicJwk },
    agentId,
  };
}
