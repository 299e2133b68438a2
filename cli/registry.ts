// Tag → digest through the registry HTTP API (distribution spec), anonymously.
// The agent refuses tags, so every deploy pins the exact manifest the tag names now.

import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { UpstreamError, UserError } from '../shared/errors.js';
import { describeImage, type ImageReference } from './image-reference.js';

// Without these the distribution registry answers 400 (or a converted v1 manifest).
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_TOKEN_BYTES = 64 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface RegistryOptions {
  timeoutMs?: number;
}

function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0] ?? '';
  return bare === 'localhost' || bare === '::1' || (isIPv4(bare) && bare.startsWith('127.'));
}

/** Loopback registries speak plain HTTP (as Docker allows); every other registry HTTPS. */
export function registryBaseUrl(registry: string): string {
  return `${isLoopbackHost(registry) ? 'http' : 'https'}://${registry}`;
}

export function parseBearerChallenge(header: string): { realm: string; service?: string; scope?: string } | undefined {
  if (!/^\s*bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[(m[1] ?? '').toLowerCase()] = m[2] ?? '';
  if (!params.realm) return undefined;
  return { realm: params.realm, service: params.service, scope: params.scope };
}

async function readBounded(response: Response, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!response.body) return Buffer.alloc(0);
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > max) throw new UpstreamError(`${what} is larger than ${max} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export async function resolveImageDigest(ref: ImageReference, options: RegistryOptions = {}): Promise<string> {
  if (ref.digest) return ref.digest;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const image = describeImage(ref);
  const url = `${registryBaseUrl(ref.registry)}/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag ?? 'latest')}`;

  const call = async (method: 'HEAD' | 'GET', target: string, headers: Record<string, string>): Promise<Response> => {
    try {
      return await fetch(target, { method, headers, redirect: 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UpstreamError(`cannot reach registry ${ref.registry}: ${why}`, `check that ${new URL(target).host} is up and reachable from here`);
    }
  };

  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  let response = await call('HEAD', url, headers);
  if (response.status === 401) {
    headers.Authorization = `Bearer ${await anonymousToken(ref, response, call)}`;
    response = await call('HEAD', url, headers);
  }
  if (response.status === 401 || response.status === 403) {
    throw new UserError(`registry ${ref.registry} refused anonymous access to ${ref.repository}`, 'private registries need credentials, which this version of deploy does not send yet');
  }
  if (response.status === 404) {
    throw new UserError(`image ${image} not found in registry ${ref.registry}`, `push it first: docker push ${image}`, 'image_not_found');
  }
  if (response.status !== 200) {
    throw new UpstreamError(`registry ${ref.registry} answered HTTP ${response.status} for ${image}`);
  }
  const digest = response.headers.get('docker-content-digest');
  if (digest && DIGEST.test(digest)) return digest;

  // Some registries omit the header on HEAD: the digest is the hash of the manifest bytes.
  const full = await call('GET', url, headers);
  if (full.status !== 200) throw new UpstreamError(`registry ${ref.registry} answered HTTP ${full.status} for ${image}`);
  const body = await readBounded(full, MAX_MANIFEST_BYTES, `the manifest of ${image}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

async function anonymousToken(
  ref: ImageReference,
  challengeResponse: Response,
  call: (method: 'GET', url: string, headers: Record<string, string>) => Promise<Response>,
): Promise<string> {
  const challenge = parseBearerChallenge(challengeResponse.headers.get('www-authenticate') ?? '');
  if (!challenge) {
    throw new UserError(`registry ${ref.registry} requires credentials for ${ref.repository}`, 'private registries need credentials, which this version of deploy does not send yet');
  }
  let realm: URL;
  try {
    realm = new URL(challenge.realm);
  } catch {
    throw new UpstreamError(`registry ${ref.registry} sent an invalid token realm`);
  }
  if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopbackHost(realm.host))) {
    throw new UpstreamError(`registry ${ref.registry} sent a token realm that is not HTTPS: ${realm.origin}`);
  }
  if (challenge.service) realm.searchParams.set('service', challenge.service);
  realm.searchParams.set('scope', challenge.scope ?? `repository:${ref.repository}:pull`);
  const response = await call('GET', realm.toString(), { Accept: 'application/json' });
  if (response.status !== 200) {
    throw new UserError(`registry ${ref.registry} refused an anonymous token for ${ref.repository} (HTTP ${response.status})`, 'private registries need credentials, which this version of deploy does not send yet');
  }
  const body = await readBounded(response, MAX_TOKEN_BYTES, `the token answer of ${realm.host}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new UpstreamError(`the token service of ${ref.registry} answered with invalid JSON`);
  }
  const { token, access_token: accessToken } = (parsed ?? {}) as { token?: unknown; access_token?: unknown };
  const value = typeof token === 'string' ? token : accessToken;
  if (typeof value !== 'string' || value.length === 0 || /[\r\n]/.test(value)) {
    throw new UpstreamError(`the token service of ${ref.registry} answered without a token`);
  }
  return value;
}
