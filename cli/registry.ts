// Tag → digest through the registry HTTP API (distribution spec), anonymously
// or with the app's registry login (Basic, or Bearer tokens as Docker Hub does).
// The agent refuses tags, so every deploy pins the exact manifest the tag names now.

import { createHash } from 'node:crypto';
import { isIPv4 } from 'node:net';
import { UpstreamError, UserError } from '../shared/errors.js';
import { describeImage, type ImageReference } from './image-reference.js';
import {
  basicAuthorization,
  checkCredentials,
  credentialsRejected,
  credentialsRequired,
  fetchBearerToken,
  parseChallenge,
  type Call,
  type RegistryCredentials,
} from './registry-auth.js';

export type { RegistryCredentials } from './registry-auth.js';

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

export function parseBearerChallenge(header: string): { realm: string; service?: string | undefined; scope?: string | undefined } | undefined {
  const c = parseChallenge(header);
  return c?.scheme === 'bearer' ? { realm: c.realm, service: c.service, scope: c.scope } : undefined;
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

/**
 * The digest the tag names now. With `credentials`, a registry's challenge is
 * answered with them; errors say "credentials rejected" apart from "repository
 * or tag not found", and name the registry and the user, never the password.
 */
export async function resolveImageDigest(
  ref: ImageReference,
  credentials?: RegistryCredentials,
  options: RegistryOptions = {},
): Promise<string> {
  if (ref.digest) return ref.digest;
  if (credentials) checkCredentials(credentials, ref.registry);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const image = describeImage(ref);
  const url = `${registryBaseUrl(ref.registry)}/v2/${ref.repository}/manifests/${encodeURIComponent(ref.tag ?? 'latest')}`;

  const call: Call = async (method, target, headers, opts = {}) => {
    let response: Response;
    try {
      // A request carrying a password follows no redirect: it could lead anywhere.
      response = await fetch(target, { method, headers, redirect: opts.credentialed ? 'manual' : 'follow', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000}s` : cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UpstreamError(`cannot reach registry ${ref.registry}: ${why}`, `check that ${new URL(target).host} is up and reachable from here`);
    }
    if (opts.credentialed && response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new UpstreamError(`registry ${ref.registry}: ${new URL(target).host} redirected a request that carries credentials; not following it`);
    }
    return response;
  };

  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  let credentialed = false;
  let scheme: 'basic' | 'bearer' | undefined;
  let response = await call('HEAD', url, headers);
  if (response.status === 401) {
    const challenge = parseChallenge(response.headers.get('www-authenticate') ?? '');
    if (!challenge) throw credentialsRequired(ref.registry, ref.repository, 'it sent no challenge Berth understands');
    scheme = challenge.scheme;
    if (challenge.scheme === 'basic') {
      if (!credentials) throw credentialsRequired(ref.registry, ref.repository);
      headers.Authorization = basicAuthorization(credentials);
      credentialed = true;
    } else {
      const token = await fetchBearerToken({
        registry: ref.registry,
        repository: ref.repository,
        challenge,
        credentials,
        call,
        isAllowedRealm: (realm) => realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopbackHost(realm.host)),
        readJson: async (r, what) => {
          try {
            return JSON.parse((await readBounded(r, MAX_TOKEN_BYTES, what)).toString('utf8')) as unknown;
          } catch (err) {
            if (err instanceof UpstreamError) throw err;
            throw new UpstreamError(`the token service of ${ref.registry} answered with invalid JSON`);
          }
        },
      });
      headers.Authorization = `Bearer ${token}`;
    }
    response = await call('HEAD', url, headers, { credentialed });
  }
  if (response.status === 401 || response.status === 403) {
    throw refused(ref, response, credentials, scheme);
  }
  if (response.status === 404) {
    throw new UserError(
      `image ${image} not found in registry ${ref.registry} (repository or tag not found)`,
      `push it first: docker push ${image}`,
      'image_not_found',
    );
  }
  if (response.status !== 200) {
    throw new UpstreamError(`registry ${ref.registry} answered HTTP ${response.status} for ${image}`);
  }
  const digest = response.headers.get('docker-content-digest');
  if (digest && DIGEST.test(digest)) return digest;

  // Some registries omit the header on HEAD: the digest is the hash of the manifest bytes.
  const full = await call('GET', url, headers, { credentialed });
  if (full.status !== 200) throw new UpstreamError(`registry ${ref.registry} answered HTTP ${full.status} for ${image}`);
  const body = await readBounded(full, MAX_MANIFEST_BYTES, `the manifest of ${image}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/** A 401/403 after whatever login the registry asked for. */
function refused(ref: ImageReference, response: Response, credentials: RegistryCredentials | undefined, scheme: 'basic' | 'bearer' | undefined): UserError {
  const status = response.status;
  if (!credentials) {
    return status === 403
      ? new UserError(`registry ${ref.registry} refused anonymous access to ${ref.repository} (HTTP 403)`, 'set registry: server, username and password in deploy.yml', 'registry_credentials_required')
      : credentialsRequired(ref.registry, ref.repository);
  }
  const again = parseChallenge(response.headers.get('www-authenticate') ?? '');
  // A token that was issued but does not cover the repository: the login is fine,
  // the repository is missing or not this user's (Docker Hub cannot tell them apart).
  if (status === 403 || (scheme === 'bearer' && again?.scheme === 'bearer' && again.error === 'insufficient_scope')) {
    return new UserError(
      `registry ${ref.registry}: user ${credentials.username} may not pull ${ref.repository}, or the repository does not exist (HTTP ${status})`,
      `check the image name and that ${credentials.username} has pull access to it`,
      'registry_access_denied',
    );
  }
  return credentialsRejected(ref.registry, credentials.username, `HTTP ${status} for ${ref.repository}`);
}
