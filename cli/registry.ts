// Tag → digest through the registry HTTP API (distribution spec), anonymously
// or with the app's registry login (Basic, or Bearer tokens as Docker Hub does).
// The agent refuses tags, so every deploy pins the exact manifest the tag names now.

import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
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
  type RegistryResponse,
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

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

interface SendOptions {
  follow: boolean;
  deadline: number;
  maxBytes: number;
  what: string;
}

function timedOut(): NodeJS.ErrnoException {
  return Object.assign(new Error('timed out'), { code: 'BERTH_TIMEOUT' });
}

/**
 * One request with its body read whole (up to maxBytes), by node:http(s): the
 * agent client has loaded them already, where fetch would load undici. Redirects
 * are followed as fetch follows them when asked to (an Authorization header
 * stays on the same origin); the deadline covers redirects and body.
 */
function send(method: 'HEAD' | 'GET', target: URL, headers: Record<string, string>, o: SendOptions, hops = 0): Promise<RegistryResponse> {
  return new Promise((resolve, reject) => {
    const req = (target.protocol === 'https:' ? https : http).request(target, { method, headers, agent: false });
    let res: IncomingMessage | undefined;
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    const timer = setTimeout(() => {
      const err = timedOut();
      req.destroy(err);
      res?.destroy(err);
    }, Math.max(1, o.deadline - Date.now()));
    req.once('error', fail);
    req.once('response', (answer) => {
      res = answer;
      answer.once('error', fail);
      const status = answer.statusCode ?? 0;
      const location = answer.headers.location;
      if (o.follow && REDIRECT_STATUSES.has(status) && location) {
        answer.resume();
        clearTimeout(timer);
        let next: URL;
        try {
          next = new URL(location, target);
        } catch {
          return reject(new Error(`invalid redirect to ${location.slice(0, 100)}`));
        }
        if (hops >= MAX_REDIRECTS) return reject(new Error('too many redirects'));
        const { Authorization: _auth, authorization: _lower, ...rest } = headers;
        resolve(send(method, next, next.origin === target.origin ? headers : rest, o, hops + 1));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      answer.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > o.maxBytes) {
          answer.destroy();
          fail(new UpstreamError(`${o.what} is larger than ${o.maxBytes} bytes`));
        } else {
          chunks.push(chunk);
        }
      });
      answer.once('end', () => {
        clearTimeout(timer);
        resolve({
          status,
          header: (name) => {
            const value = answer.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
          body: Buffer.concat(chunks),
        });
      });
    });
    req.end();
  });
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
    let response: RegistryResponse;
    const url = new URL(target);
    try {
      // A request carrying a password follows no redirect: it could lead anywhere.
      const what = opts.what ?? `the answer of ${url.host}`;
      response = await send(method, url, headers, { follow: !opts.credentialed, deadline: Date.now() + timeoutMs, maxBytes: MAX_MANIFEST_BYTES, what });
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'BERTH_TIMEOUT' ? `no answer within ${timeoutMs / 1000}s` : e.code ?? e.message;
      throw new UpstreamError(`cannot reach registry ${ref.registry}: ${why}`, `check that ${url.host} is up and reachable from here`);
    }
    if (opts.credentialed && response.status >= 300 && response.status < 400) {
      throw new UpstreamError(`registry ${ref.registry}: ${new URL(target).host} redirected a request that carries credentials; not following it`);
    }
    return response;
  };

  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  let credentialed = false;
  let scheme: 'basic' | 'bearer' | undefined;
  let response = await call('HEAD', url, headers);
  if (response.status === 401) {
    const challenge = parseChallenge(response.header('www-authenticate') ?? '');
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
        readJson: (r, what) => {
          if (r.body.length > MAX_TOKEN_BYTES) throw new UpstreamError(`${what} is larger than ${MAX_TOKEN_BYTES} bytes`);
          try {
            return JSON.parse(r.body.toString('utf8')) as unknown;
          } catch {
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
  const digest = response.header('docker-content-digest');
  if (digest && DIGEST.test(digest)) return digest;

  // Some registries omit the header on HEAD: the digest is the hash of the manifest bytes.
  const full = await call('GET', url, headers, { credentialed, what: `the manifest of ${image}` });
  if (full.status !== 200) throw new UpstreamError(`registry ${ref.registry} answered HTTP ${full.status} for ${image}`);
  return `sha256:${createHash('sha256').update(full.body).digest('hex')}`;
}

/** A 401/403 after whatever login the registry asked for. */
function refused(ref: ImageReference, response: RegistryResponse, credentials: RegistryCredentials | undefined, scheme: 'basic' | 'bearer' | undefined): UserError {
  const status = response.status;
  if (!credentials) {
    return status === 403
      ? new UserError(`registry ${ref.registry} refused anonymous access to ${ref.repository} (HTTP 403)`, 'set registry: server, username and password in deploy.yml', 'registry_credentials_required')
      : credentialsRequired(ref.registry, ref.repository);
  }
  const again = parseChallenge(response.header('www-authenticate') ?? '');
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
