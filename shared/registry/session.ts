// The part of a registry read that every endpoint shares: one request under a
// deadline and a body cap, then the 401 challenge answered as Docker does
// (Basic: the login on each request; Bearer: a pull token from the realm),
// and the registry's refusals told apart. resolve.ts (a manifest) and tags.ts
// (the tag list) differ only in the URL and what they read from the answer.

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

const MAX_TOKEN_BYTES = 64 * 1024;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function isLoopbackHost(host: string): boolean {
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

export interface RegistryTarget {
  /** Host[:port] of the registry's HTTP API. */
  registry: string;
  repository: string;
  /** How the image is named in messages (`host/app:v1`). */
  image: string;
  credentials?: RegistryCredentials | undefined;
  send: Send;
  timeoutMs: number;
}

/** A session against one repository: after `open`, `headers` carry whatever login the registry asked for. */
export interface Session {
  call: Call;
  headers: Record<string, string>;
  credentialed: boolean;
  scheme: 'basic' | 'bearer' | undefined;
}

/** The request function of a session: deadline per request, `maxBytes` per body, transport errors typed. */
export function registryCall(t: RegistryTarget, maxBytes: number): Call {
  return async (method, target, headers, opts = {}) => {
    let response: RegistryResponse;
    const url = new URL(target);
    try {
      // A request carrying a password follows no redirect: it could lead anywhere.
      const what = opts.what ?? `the answer of ${url.host}`;
      response = await exchange(t.send, method, url, headers, { follow: !opts.credentialed, deadline: Date.now() + t.timeoutMs, maxBytes, what });
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      const e = err as NodeJS.ErrnoException;
      const why = err instanceof DeadlineError ? `no answer within ${t.timeoutMs / 1000}s` : e.code ?? e.message;
      throw registryFailure(`cannot reach registry ${t.registry}: ${why}`, 0, { hint: `check that ${url.host} is up and reachable from here` });
    }
    if (opts.credentialed && response.status >= 300 && response.status < 400) {
      throw registryFailure(`registry ${t.registry}: ${url.host} redirected a request that carries credentials; not following it`, response.status);
    }
    return response;
  };
}

/**
 * The first request of a session: sent anonymously, and when the registry
 * answers 401, sent again with the login its challenge asks for. The session's
 * headers then serve every further request (pages of a list, a GET fallback).
 */
export async function openSession(
  t: RegistryTarget, maxBytes: number, method: 'HEAD' | 'GET', url: string, headers: Record<string, string>,
): Promise<{ session: Session; response: RegistryResponse }> {
  if (t.credentials) checkCredentials(t.credentials, t.registry);
  const session: Session = { call: registryCall(t, maxBytes), headers: { ...headers }, credentialed: false, scheme: undefined };
  let response = await session.call(method, url, session.headers);
  if (response.status !== 401) return { session, response };
  const challenge = parseChallenge(response.header('www-authenticate') ?? '');
  if (!challenge) throw credentialsRequired(t.registry, t.repository, 401, 'it sent no challenge Berth understands');
  session.scheme = challenge.scheme;
  if (challenge.scheme === 'basic') {
    if (!t.credentials) throw credentialsRequired(t.registry, t.repository, 401);
    session.headers.Authorization = basicAuthorization(t.credentials);
    session.credentialed = true;
  } else {
    const token = await fetchBearerToken({
      registry: t.registry,
      repository: t.repository,
      challenge,
      credentials: t.credentials,
      call: session.call,
      isAllowedRealm: (realm) => realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopbackHost(realm.host)),
      readJson: (r, what) => {
        if (r.body.length > MAX_TOKEN_BYTES) throw registryFailure(`${what} is larger than ${MAX_TOKEN_BYTES} bytes`, r.status);
        try {
          return JSON.parse(r.body.toString('utf8')) as unknown;
        } catch {
          throw registryFailure(`the token service of ${t.registry} answered with invalid JSON`, r.status);
        }
      },
    });
    session.headers.Authorization = `Bearer ${token}`;
  }
  response = await session.call(method, url, session.headers, { credentialed: session.credentialed });
  return { session, response };
}

/** Any answer but 200, typed: 401/403 refusals, 404 (`missing` says what was not found), 429/5xx with Retry-After. */
export function notOk(t: RegistryTarget, session: Session, response: RegistryResponse, missing: string): RegistryError {
  if (response.status === 401 || response.status === 403) return refused(t, response, session.scheme);
  if (response.status === 404) {
    return new RegistryError(
      'image_not_found',
      400,
      `image ${t.image} not found in registry ${t.registry} (${missing})`,
      `push it first: docker push ${t.image}`,
      { status: 404 },
    );
  }
  return answeredHttp(t, response);
}

export function answeredHttp(t: RegistryTarget, response: RegistryResponse): RegistryError {
  const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.header('retry-after'), Date.now()) : undefined;
  return registryFailure(`registry ${t.registry} answered HTTP ${response.status} for ${t.image}`, response.status, { retryAfterMs });
}

/** A 401/403 after whatever login the registry asked for. */
function refused(t: RegistryTarget, response: RegistryResponse, scheme: 'basic' | 'bearer' | undefined): RegistryError {
  const status = response.status;
  const { credentials } = t;
  if (!credentials) {
    return status === 403
      ? new RegistryError(
          'registry_credentials_required',
          400,
          `registry ${t.registry} refused anonymous access to ${t.repository} (HTTP 403)`,
          'set registry: server, username and password in deploy.yml',
          { status },
        )
      : credentialsRequired(t.registry, t.repository, status);
  }
  const again = parseChallenge(response.header('www-authenticate') ?? '');
  // A token that was issued but does not cover the repository: the login is fine,
  // the repository is missing or not this user's (Docker Hub cannot tell them apart).
  if (status === 403 || (scheme === 'bearer' && again?.scheme === 'bearer' && again.error === 'insufficient_scope')) {
    return new RegistryError(
      'registry_access_denied',
      400,
      `registry ${t.registry}: user ${credentials.username} may not pull ${t.repository}, or the repository does not exist (HTTP ${status})`,
      `check the image name and that ${credentials.username} has pull access to it`,
      { status },
    );
  }
  return credentialsRejected(t.registry, credentials.username, `HTTP ${status} for ${t.repository}`, status);
}
