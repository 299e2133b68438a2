// Registry authentication as Docker does it: a 401 carries a challenge; Basic
// means "send the login with each request", Bearer means "trade the login (or
// nothing, anonymously) for a token at the realm". Passwords go only into an
// Authorization header, never into a message: errors name the registry and the user.

import { RegistryError, UserError } from '../errors.js';
import type { RegistryResponse } from './exchange.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export type Challenge =
  | { scheme: 'bearer'; realm: string; service?: string | undefined; scope?: string | undefined; error?: string | undefined }
  | { scheme: 'basic'; realm?: string | undefined };

// Cloud registries hand out long-lived tokens as passwords (ECR: a few KiB).
const MAX_CREDENTIAL_CHARS = 8192;

/** `Bearer realm="…",service="…"` or `Basic realm="…"`; undefined for anything else. */
export function parseChallenge(header: string): Challenge | undefined {
  const scheme = /^\s*(bearer|basic)(?:\s|$)/i.exec(header)?.[1]?.toLowerCase();
  if (!scheme) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[(m[1] ?? '').toLowerCase()] = m[2] ?? '';
  if (scheme === 'basic') return { scheme: 'basic', realm: params.realm };
  if (!params.realm) return undefined;
  return { scheme: 'bearer', realm: params.realm, service: params.service, scope: params.scope, error: params.error };
}

/** Refuses logins HTTP Basic cannot carry, without ever echoing the password. */
export function checkCredentials(c: RegistryCredentials, registry: string): void {
  const bad = (why: string) => new UserError(`the login for registry ${registry} is unusable: ${why}`, 'check registry.username and registry.password in deploy.yml');
  if (typeof c.username !== 'string' || c.username.length === 0) throw bad('the username is empty');
  if (c.username.length > 256 || /[\x00-\x1f\x7f:]/.test(c.username)) throw bad('the username must be at most 256 characters without ":" or control characters');
  if (typeof c.password !== 'string' || c.password.length === 0) throw bad(`the password of user ${c.username} is empty`);
  if (c.password.length > MAX_CREDENTIAL_CHARS || /[\r\n\x00]/.test(c.password)) {
    throw bad(`the password of user ${c.username} is longer than ${MAX_CREDENTIAL_CHARS} characters or holds a line break`);
  }
}

export function basicAuthorization(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

export type Call = (
  method: 'HEAD' | 'GET',
  url: string,
  headers: Record<string, string>,
  /** `what`: the body's name in the error when it is too large. */
  opts?: { credentialed?: boolean; what?: string },
) => Promise<RegistryResponse>;

export interface TokenRequest {
  registry: string;
  repository: string;
  challenge: Extract<Challenge, { scheme: 'bearer' }>;
  credentials: RegistryCredentials | undefined;
  call: Call;
  isAllowedRealm: (realm: URL) => boolean;
  readJson: (response: RegistryResponse, what: string) => unknown;
}

/** A pull token from the challenge's realm: with the login as Basic auth when there is one. */
export async function fetchBearerToken(r: TokenRequest): Promise<string> {
  let realm: URL;
  try {
    realm = new URL(r.challenge.realm);
  } catch {
    throw registryFailure(`registry ${r.registry} sent an invalid token realm`, 401);
  }
  if (!r.isAllowedRealm(realm)) {
    throw registryFailure(`registry ${r.registry} sent a token realm that is not HTTPS: ${realm.origin}`, 401);
  }
  if (r.challenge.service) realm.searchParams.set('service', r.challenge.service);
  // Our own scope, not the challenge's: the challenge may ask for push.
  realm.searchParams.set('scope', `repository:${r.repository}:pull`);
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (r.credentials) {
    realm.searchParams.set('account', r.credentials.username);
    headers.Authorization = basicAuthorization(r.credentials);
  }
  const response = await r.call('GET', realm.toString(), headers, { credentialed: r.credentials !== undefined });
  if (response.status === 401 || response.status === 403) {
    if (r.credentials) throw credentialsRejected(r.registry, r.credentials.username, `the token service ${realm.host} answered HTTP ${response.status}`, response.status);
    throw credentialsRequired(r.registry, r.repository, response.status, `its token service refused an anonymous token: HTTP ${response.status}`);
  }
  if (response.status !== 200) {
    throw registryFailure(`the token service of registry ${r.registry} (${realm.host}) answered HTTP ${response.status}`, response.status);
  }
  const parsed = r.readJson(response, `the token answer of ${realm.host}`);
  const { token, access_token: accessToken } = (parsed ?? {}) as { token?: unknown; access_token?: unknown };
  const value = typeof token === 'string' && token.length > 0 ? token : accessToken;
  if (typeof value !== 'string' || value.length === 0 || /[\r\n]/.test(value)) {
    throw registryFailure(`the token service of ${r.registry} answered without a token`, response.status);
  }
  return value;
}

export function credentialsRejected(registry: string, username: string, detail: string, status: number): RegistryError {
  return new RegistryError(
    'registry_credentials_rejected',
    400,
    `registry ${registry}: credentials rejected for user ${username} (${detail})`,
    'check registry.username and the registry password secret',
    { status },
  );
}

export function credentialsRequired(registry: string, repository: string, status: number, detail?: string): RegistryError {
  return new RegistryError(
    'registry_credentials_required',
    400,
    `registry ${registry} requires credentials for ${repository}${detail ? ` (${detail})` : ''}`,
    'set registry: server, username and password in deploy.yml',
    { status },
  );
}

/** The registry (or its token service) failed: worth a retry later, unlike a refusal. */
export function registryFailure(message: string, status: number, extra: { hint?: string; retryAfterMs?: number | undefined } = {}): RegistryError {
  return new RegistryError('upstream_failed', 502, message, extra.hint, { status, retryAfterMs: extra.retryAfterMs });
}
