// The control endpoints for HTTPS: ACME challenge answers and certificates
// (docs/router.md "Control protocol"). Refusals name the problem and never
// echo PEM text.

import type { ChallengeAnswers } from './acme-challenges.js';
import type { CertificateStore } from './certificates.js';

/** The stores themselves, or a cluster primary's wrappers that also push to every worker. */
export interface TlsControl {
  challenges: Pick<ChallengeAnswers, 'put' | 'delete'> | { put(token: string, body: unknown): Promise<void>; delete(token: string): Promise<void> };
  certificates: Pick<CertificateStore, 'put' | 'delete' | 'list'>;
}

export interface ControlAnswer {
  status: number;
  body?: unknown;
}

/**
 * The answer for a TLS endpoint, or undefined when `path` is not one.
 * `allow` throws 405 for another method; `body` reads the bounded JSON body.
 */
export async function tlsEndpoint(
  tls: TlsControl,
  method: string,
  path: string,
  allow: (method: string, methods: string[]) => void,
  body: () => Promise<unknown>,
): Promise<ControlAnswer | undefined> {
  if (path === '/certificates') {
    allow(method, ['GET']);
    return { status: 200, body: { certificates: tls.certificates.list() } };
  }
  const challenge = /^\/acme-challenges\/([^/]*)$/.exec(path);
  if (challenge) {
    allow(method, ['PUT', 'DELETE']);
    const token = challenge[1]!;
    if (method === 'DELETE') await tls.challenges.delete(token);
    else await tls.challenges.put(token, await body());
    return { status: 204 };
  }
  const certificate = /^\/certificates\/([^/]*)$/.exec(path);
  if (certificate) {
    allow(method, ['PUT', 'DELETE']);
    const id = certificate[1]!;
    if (method === 'DELETE') {
      await tls.certificates.delete(id);
      return { status: 204 };
    }
    return { status: 200, body: await tls.certificates.put(id, await body()) };
  }
  return undefined;
}
