// Hand-made signed requests to a real agent, for tests that send what the CLI
// never would (forged, replayed, oversized). TLS is pinned to the agent's cert.
import https from 'node:https';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerName } from '../../agent/core/containers.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { signManifest } from '../../shared/manifest-signing.js';
import { signRequest } from '../../shared/request-token.js';
import type { BerthHost } from './berth-host.js';

export interface Reply {
  status: number;
  body: any;
}

export interface OperatorKey {
  privateJwk: Record<string, unknown>;
  kid: string;
}

export function loadKey(file: string): OperatorKey {
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  return { privateJwk: jwk, kid: jwk.kid };
}

export async function agentId(host: BerthHost): Promise<string> {
  const r = await rawRequest(host, 'GET', '/v1/identity', '');
  return r.body.agent_id;
}

/** The name this host's agent gives a release's container (service-role[-destination]-version-<agent tag>). */
export async function containerNameOn(host: BerthHost, service: string, role: string, version: string, destination = ''): Promise<string> {
  return containerName({ service, destination, version, aud: await agentId(host) }, role);
}

export interface ClientOptions {
  /** The client's source address (any 127.0.0.0/8 address on loopback), so tests can act as distinct clients. */
  localAddress?: string;
}

/** TLS options that trust exactly this host's agent certificate. */
export function pinnedTls(host: BerthHost): Pick<https.RequestOptions, 'ca' | 'checkServerIdentity'> {
  const pem = readFileSync(join(host.stateDir, 'tls/cert.pem'), 'utf8');
  const fingerprint = new X509Certificate(pem).fingerprint256;
  return {
    ca: pem,
    checkServerIdentity: (_name, cert) => (cert.fingerprint256 === fingerprint ? undefined : new Error('certificate does not match the pin')),
  };
}

/** Send raw bytes with an explicit Authorization header (or none). */
export function rawRequest(host: BerthHost, method: string, path: string, body: string | Buffer, authorization?: string, opts: ClientOptions = {}): Promise<Reply> {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: host.ip,
        port: host.agentPort,
        method,
        path,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        ...pinnedTls(host),
        headers: {
          'content-type': 'application/json',
          'content-length': String(data.length),
          ...(authorization ? { authorization } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON; keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

export async function signedRequest(host: BerthHost, key: OperatorKey, aud: string, method: string, path: string, body = '', opts: ClientOptions = {}): Promise<Reply> {
  const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud, method, pathAndQuery: path, body });
  return rawRequest(host, method, path, body, `Berth ${token}`, opts);
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** A stored release's payload as any deploy key may fetch it (what a rollback re-signs). */
export async function storedPayload(host: BerthHost, key: OperatorKey, aud: string, service: string, version: string): Promise<ManifestPayload> {
  const got = await signedRequest(host, key, aud, 'GET', `/v1/services/${service}/releases/${version}`);
  if (got.status !== 200) throw new Error(`GET release ${version}: ${got.status} ${JSON.stringify(got.body)}`);
  return got.body.release.payload as ManifestPayload;
}

/**
 * `stored` re-signed by `key` as a new release (fresh times, jti, seq and a
 * version `r<seq>`, `over` applied) and posted: how attacks with a deploy key
 * build the release they try.
 */
export async function postResigned(host: BerthHost, key: OperatorKey, aud: string, stored: ManifestPayload, seq: number, over: Partial<ManifestPayload>): Promise<Reply> {
  const now = Math.floor(Date.now() / 1000);
  const { trigger: _t, ...base } = stored;
  const payload = { ...base, iss: key.kid, iat: now, exp: now + 600, jti: randomBytes(16).toString('base64url'), seq, version: `r${seq}`, ...over } as ManifestPayload;
  const manifest = await signManifest(payload, key.privateJwk, key.kid);
  return signedRequest(host, key, aud, 'POST', '/v1/releases', JSON.stringify({ manifest }));
}
