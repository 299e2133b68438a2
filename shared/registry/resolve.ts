// Tag → digest through the registry HTTP API (distribution spec), anonymously
// or with a registry login (Basic, or Bearer tokens as Docker Hub does). The CLI
// pins every deploy to the manifest a tag names now; the agent re-reads a tag
// itself when a webhook or its poller says it moved. Both inject their transport.

import { createHash } from 'node:crypto';
import { RegistryError } from '../errors.js';
import {
  basicAuthorization,
  checkCredentials,
  credentialsRejected,
  credentialsRequired,
  fetchBearerToken,
  parseChallenge,
  registryFailure,
  type Call,
  type RegistryCredentials,
} from './auth.js';
import { DeadlineError, exchange, type RegistryResponse, type Send } from './exchange.js';

// Without these the distribution registry answers 400 (or a converted v1 manifest).
export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export const DIGEST = /^sha256:[a-f0-9]{64}$/;
const MAX_TOKEN_BYTES = 64 * 1024;
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.split(':')[0] ?? '';
  return bare === 'localhost' || bare === '::1' || (IPV4.test(bare) && bare.startsWith('127.'));
}

/** Loopback registries speak plain HTTP (as Docker allows); every other registry HTTPS. */
export function registryBaseUrl(registry: string): string {
  return `${isLoopbackHost(registry) ? 'http' : 'https'}://${registry}`;
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // HTTP dates start with the day's name; Date.parse alone would take "-5" or "1.5" for dates.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export interface DigestLookup {
  /** Host[:port] of the registry's HTTP API. */
  registry: string;
  repository: string;
  tag: string;
  /** How the image is named in messages (`host/app:v1`). */
  image: string;
  credentials?: RegistryCredentials | undefined;
  send: Send;
  timeoutMs: number;
}

/**
 * The digest the tag names now. With `credentials`, a registry's challenge is
 * answered with them; errors say "credentials rejected" apart from "repository
 * or tag not found", and name the registry and the user, never the password.
 */
export async function lookupTagDigest(l: DigestLookup): Promise<string> {
  if (l.credentials) checkCredentials(l.credentials, l.registry);
  const url = `${registryBaseUrl(l.registry)}/v2/${l.repository}/manifests/${encodeURIComponent(l.tag)}`;

  const call: Call = async (method, target, headers, opts = {}) => {
    let response: RegistryResponse;
    const url = new URL(target);
    try {
      // A request carrying a password follows no redirect: it could lead anywhere.
      const what = opts.what ?? `the answer of ${url.host}`;
      response = await exchange(l.send, method, url, headers, { follow: !opts.credentialed, deadline: Date.now() + l.timeoutMs, maxBytes: MAX_MANIFEST_BYTES, what });
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = err instanceof DeadlineError ? `no answer within ${l.timeoutMs / 1000}s` : e.code ?? e.message;
      throw registryFailure(`cannot reach registry ${l.registry}: ${why}`, 0, { hint: `check that ${url.host} is up and reachable from here` });
    }
    if (opts.credentialed && response.status >= 300 && response.status < 400) {
      throw registryFailure(`registry ${l.registry}: ${new URL(target).host} redirected a request that carries credentials; not following it`, response.status);
    }
    return response;
  };

  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  let credentialed = false;
  let scheme: 'basic' | 'bearer' | undefined;
  let response = await call('HEAD', url, headers);
  if (response.status === 401) {
    const challenge = parseChallenge(response.header('www-authenticate') ?? '');
    if (!challenge) throw credentialsRequired(l.registry, l.repository, 401, 'it sent no challenge Berth understands');
    scheme = challenge.scheme;
    if (challenge.scheme === 'basic') {
      if (!l.credentials) throw credentialsRequired(l.registry, l.repository, 401);
      headers.Authorization = basicAuthorization(l.credentials);
      credentialed = true;
    } else {
      const token = await fetchBearerToken({
        registry: l.registry,
        repository: l.repository,
        challenge,
        credentials: l.credentials,
        call,
        isAllowedRealm: (realm) => realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopbackHost(realm.host)),
        readJson: (r, what) => {
          if (r.body.length > MAX_TOKEN_BYTES) throw registryFailure(`${what} is larger than ${MAX_TOKEN_BYTES} bytes`, r.status);
          try {
            return JSON.parse(r.body.toString('utf8')) as unknown;
          } catch {
            throw registryFailure(`the token service of ${l.registry} answered with invalid JSON`, r.status);
          }
        },
      });
      headers.Authorization = `Bearer ${token}`;
    }
    response = await call('HEAD', url, headers, { credentialed });
  }
  if (response.status === 401 || response.status === 403) {
    throw refused(l, response, scheme);
  }
  if (response.status === 404) {
    throw new RegistryError(
      'image_not_found',
      400,
      `image ${l.image} not found in registry ${l.registry} (repository or tag not found)`,
      `push it first: docker push ${l.image}`,
      { status: 404 },
    );
  }
  if (response.status !== 200) throw answeredHttp(l, response);
  const digest = response.header('docker-content-digest');
  if (digest && DIGEST.test(digest)) return digest;

  // Some registries omit the header on HEAD: the digest is the hash of the manifest bytes.
  const full = await call('GET', url, headers, { credentialed, what: `the manifest of ${l.image}` });
  if (full.status !== 200) throw answeredHttp(l, full);
  return `sha256:${createHash('sha256').update(full.body).digest('hex')}`;
}

function answeredHttp(l: DigestLookup, response: RegistryResponse): RegistryError {
  const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.header('retry-after'), Date.now()) : undefined;
  return registryFailure(`registry ${l.registry} answered HTTP ${response.status} for ${l.image}`, response.status, { retryAfterMs });
}

/** A 401/403 after whatever login the registry asked for. */
function refused(l: DigestLookup, response: RegistryResponse, scheme: 'basic' | 'bearer' | undefined): RegistryError {
  const status = response.status;
  const { credentials } = l;
  if (!credentials) {
    return status === 403
      ? new RegistryError(
          'registry_credentials_required',
          400,
          `registry ${l.registry} refused anonymous access to ${l.repository} (HTTP 403)`,
          'set registry: server, username and password in deploy.yml',
          { status },
        )
      : credentialsRequired(l.registry, l.repository, status);
  }
  const again = parseChallenge(response.header('www-authenticate') ?? '');
  // A token that was issued but does not cover the repository: the login is fine,
  // the repository is missing or not this user's (Docker Hub cannot tell them apart).
  if (status === 403 || (scheme === 'bearer' && again?.scheme === 'bearer' && again.error === 'insufficient_scope')) {
    return new RegistryError(
      'registry_access_denied',
      400,
      `registry ${l.registry}: user ${credentials.username} may not pull ${l.repository}, or the repository does not exist (HTTP ${status})`,
      `check the image name and that ${credentials.username} has pull access to it`,
      { status },
    );
  }
  return credentialsRejected(l.registry, credentials.username, `HTTP ${status} for ${l.repository}`, status);
}
