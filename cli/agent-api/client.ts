// HTTPS to an agent, pinned: the only CA is the certificate recorded in
// known_agents and the server must present exactly that certificate (by SHA-256).
// Authenticated requests carry a fresh signed token bound to method, path and body.
// One command's requests to one agent share a keep-alive connection: the pin
// is checked at each TLS handshake, and there is one handshake per connection.

import { createReadStream } from 'node:fs';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import tls from 'node:tls';
import { BerthError, PinMismatchError, UpstreamError, errorFromBody } from '../../shared/errors.js';
import { signRequest } from '../../shared/request-token.js';
import { formatServerAddress, isIPAddress, type ServerAddress } from '../address.js';
import { derToPem, fingerprintOfDer } from '../fingerprint.js';
import type { OperatorKeyFile } from '../keys.js';

const DEFAULT_TIMEOUT_MS = 15_000;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

export interface PinnedTarget {
  address: ServerAddress;
  /** PEM of the pinned certificate; the only trust anchor for this connection. */
  certificate: string;
  tlsFingerprint: string;
}

/** TLS options that trust exactly the pinned certificate (never rejectUnauthorized: false). */
export interface PinnedTls {
  ca: string;
  servername?: string;
  checkServerIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

export interface SignedAs {
  key: OperatorKeyFile;
  agentId: string;
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

function pinMismatch(label: string): PinMismatchError {
  return new PinMismatchError(
    `the server at ${label} presented a different TLS certificate than the one pinned in .berth/known_agents: its identity changed`,
    `if it was reinstalled on purpose, check its fingerprint on the server (\`berth-agent status\`) and re-pin with \`deploy server add ${label} --replace\``,
  );
}

/** A request body read from a file as it is sent; `hash` (base64url SHA-256) was computed beforehand. */
interface StreamedBody {
  open(): NodeJS.ReadableStream;
  size: number;
  hash: string;
}

const PIN_FAILED = Symbol('pin failed');
const REUSED = Symbol('sent on a reused connection');

/** A network or TLS failure as an error that names the server. */
/** `/v1/services/NAME[/SUFFIX]?destination=DEST`: how the per-service routes are addressed. */
export function servicePath(service: string, destination: string, suffix = ''): string {
  return `/v1/services/${encodeURIComponent(service)}${suffix ? `/${suffix}` : ''}?destination=${encodeURIComponent(destination)}`;
}

export function connectionError(err: unknown, label: string, timeoutMs: number): BerthError {
  if (err instanceof BerthError) return err;
  const e = err as NodeJS.ErrnoException & { [PIN_FAILED]?: boolean };
  const code = e.code ?? '';
  if (e[PIN_FAILED] || /SELF_SIGNED|UNABLE_TO_VERIFY|CERT_SIGNATURE|CERT_UNTRUSTED|CERT_REJECTED|ALTNAME|INVALID_CA|UNABLE_TO_GET_ISSUER/.test(code)) {
    return pinMismatch(label);
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return new UpstreamError(`the pinned certificate of ${label} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'}`, 'check the clocks here and on the server; a renewed agent certificate must be re-pinned with `deploy server add --replace`', 'tls_failed');
  }
  if (code === 'ECONNREFUSED') return new UpstreamError(`cannot reach the agent at ${label}: connection refused`, 'is berth-agent running there, and is the port open?', 'unreachable');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new UpstreamError(`cannot resolve the host name of ${label}`, 'check the server name in deploy.yml', 'unreachable');
  if (code === 'ETIMEDOUT' || code === 'BERTH_TIMEOUT') {
    return new UpstreamError(`no answer from the agent at ${label} within ${Math.round(timeoutMs / 1000)}s`, 'is the server up and the agent port reachable from here?', 'timeout');
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return new UpstreamError(`the connection to ${label} was closed unexpectedly`, undefined, 'unreachable');
  return new UpstreamError(`request to ${label} failed: ${e.message ?? String(err)}`, undefined, 'unreachable');
}

function timeoutError(): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error('timed out');
  err.code = 'BERTH_TIMEOUT';
  return err;
}

/**
 * An agent too old for an endpoint answers 404 from its route table ("no route
 * for ..."), not from the endpoint: then the error saying to upgrade it, named
 * by `message`; undefined for the endpoint's own 404.
 */
export function outdatedAgentError(label: string, body: unknown, message: string): UpstreamError | undefined {
  const text = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  if (typeof text !== 'string' || !text.startsWith('no route for')) return undefined;
  return new UpstreamError(message, `upgrade the agent on ${label}`, 'agent_outdated');
}

/**
 * First contact only: a bare TLS handshake to read the certificate, then closed.
 * Nothing is sent; what the certificate is worth is decided by the identity check that follows.
 */
export function fetchPeerCertificate(address: ServerAddress, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ pem: string; fingerprint: string }> {
  const label = formatServerAddress(address);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: address.host,
      port: address.port,
      ...(isIPAddress(address.host) ? {} : { servername: address.host }),
      rejectUnauthorized: false,
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(timeoutError()));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      if (!cert || !cert.raw) return reject(new UpstreamError(`${label} presented no TLS certificate`, undefined, 'tls_failed'));
      resolve({ pem: derToPem(cert.raw), fingerprint: fingerprintOfDer(cert.raw) });
    });
    socket.once('error', (err) => reject(connectionError(err, label, timeoutMs)));
  });
}

/**
 * Keep-alive connections per agent and pinned certificate, for the life of the
 * process (one command). Idle sockets do not keep the process alive. TLS
 * sessions are not resumed, so every connection is a full handshake that
 * presents the certificate the pin is checked against.
 */
const pools = new Map<string, https.Agent>();

function poolFor(target: PinnedTarget): https.Agent {
  const key = `${formatServerAddress(target.address)} ${target.tlsFingerprint}`;
  let pool = pools.get(key);
  if (!pool) {
    pool = new https.Agent({ keepAlive: true, maxCachedSessions: 0 });
    pools.set(key, pool);
  }
  return pool;
}

export class AgentClient {
  readonly label: string;
  private readonly timeoutMs: number;
  private readonly signal: AbortSignal | undefined;

  /** `signal`: aborting it ends this client's requests, also a connection still being opened. */
  constructor(
    private readonly target: PinnedTarget,
    private readonly signer?: SignedAs,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ) {
    this.label = formatServerAddress(target.address);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.signal = options.signal;
  }

  /** GET/POST/PUT/DELETE with a JSON body; non-2xx statuses become the agent's typed error (named after the server). */
  async json(method: 'GET' | 'POST' | 'PUT' | 'DELETE', pathAndQuery: string, options: { body?: unknown; auth?: boolean; accept?: number[] } = {}): Promise<JsonResponse> {
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(options.body));
    const res = await this.send(method, pathAndQuery, body, { auth: options.auth ?? true, headers: { accept: 'application/json' }, idleTimeoutMs: this.timeoutMs });
    const raw = await readBody(res, this.label);
    let parsed: unknown;
    try {
      parsed = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      parsed = undefined;
    }
    const status = res.statusCode ?? 0;
    if ((status >= 200 && status < 300) || options.accept?.includes(status)) {
      if (parsed === undefined && status >= 200 && status < 300) throw new UpstreamError(`${this.label} answered HTTP ${status} without a JSON body`);
      return { status, body: parsed };
    }
    throw this.agentError(status, parsed);
  }

  /** An authenticated streaming GET (SSE); the caller consumes and closes the response. */
  stream(pathAndQuery: string, headers: Record<string, string>, idleTimeoutMs: number): Promise<IncomingMessage> {
    return this.streamRequest('GET', pathAndQuery, { headers, idleTimeoutMs });
  }

  /** An authenticated streaming request (SSE, NDJSON) with an optional JSON body; the caller consumes and closes the response. */
  async streamRequest(method: 'GET' | 'POST', pathAndQuery: string, options: { body?: unknown; headers: Record<string, string>; idleTimeoutMs: number }): Promise<IncomingMessage> {
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(options.body));
    const res = await this.send(method, pathAndQuery, body, { auth: true, headers: options.headers, idleTimeoutMs: options.idleTimeoutMs });
    return this.streamed(res);
  }

  /**
   * An authenticated PUT of a file, streamed (never held in memory): `hash`,
   * the base64url SHA-256 of its `size` bytes, was computed before and is
   * what the request token signs. Answers like streamRequest.
   */
  async uploadFile(pathAndQuery: string, file: { path: string; size: number; hash: string }, options: { headers: Record<string, string>; idleTimeoutMs: number }): Promise<IncomingMessage> {
    const body = { open: () => createReadStream(file.path), size: file.size, hash: file.hash };
    const res = await this.send('PUT', pathAndQuery, body, { auth: true, headers: { ...options.headers, 'content-type': 'application/octet-stream' }, idleTimeoutMs: options.idleTimeoutMs });
    return this.streamed(res);
  }

  /**
   * What a WebSocket to the agent needs: its wss URL, a signed token for a GET
   * of `pathAndQuery`, and the same pinned TLS settings as every request.
   */
  async socketOptions(pathAndQuery: string): Promise<{ url: string; headers: Record<string, string>; tls: PinnedTls }> {
    if (!this.signer) throw new UpstreamError(`internal: request to ${this.label} needs a key`);
    const token = await signRequest({ privateJwk: this.signer.key.privateJwk, kid: this.signer.key.kid, aud: this.signer.agentId, method: 'GET', pathAndQuery, body: Buffer.alloc(0) });
    const { host, port } = this.target.address;
    const url = `wss://${host.includes(':') ? `[${host}]` : host}:${port}${pathAndQuery}`;
    return { url, headers: { authorization: `Berth ${token}` }, tls: this.pinnedTls() };
  }

  /** A 2xx streamed answer as it is; any other status read and thrown as the agent's error. */
  private async streamed(res: IncomingMessage): Promise<IncomingMessage> {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const raw = await readBody(res, this.label);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    throw this.agentError(status, parsed);
  }

  /** Translates an agent's error answer (status and JSON body), named after the server. */
  errorFrom(status: number, body: unknown): BerthError {
    return this.agentError(status, body);
  }

  private pinnedTls(): PinnedTls {
    const { address, certificate, tlsFingerprint } = this.target;
    return {
      ca: certificate,
      ...(isIPAddress(address.host) ? {} : { servername: address.host }),
      // `ca` alone does not cover IP addresses or name checks: the pin is the fingerprint.
      checkServerIdentity: (_host, cert) => {
        if (cert.raw && fingerprintOfDer(cert.raw) === tlsFingerprint) return undefined;
        return Object.assign(new Error('certificate does not match the pin'), { [PIN_FAILED]: true });
      },
    };
  }

  private agentError(status: number, body: unknown): BerthError {
    const err = errorFromBody(status, body);
    return new BerthError(err.code, err.status, `${this.label}: ${err.message}`, err.hint);
  }

  private async send(method: string, pathAndQuery: string, body: Buffer | StreamedBody, options: { auth: boolean; headers: Record<string, string>; idleTimeoutMs: number }): Promise<IncomingMessage> {
    const headers: Record<string, string> = { ...options.headers };
    const streamed = !Buffer.isBuffer(body);
    if (streamed) headers['content-length'] = String(body.size);
    else if (body.length) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    if (options.auth) {
      if (!this.signer) throw new UpstreamError(`internal: request to ${this.label} needs a key`);
      const signed = streamed ? { hash: body.hash } : body;
      const token = await signRequest({ privateJwk: this.signer.key.privateJwk, kid: this.signer.key.kid, aud: this.signer.agentId, method, pathAndQuery, body: signed });
      headers.authorization = `Berth ${token}`;
    }
    const { address } = this.target;
    const attempt = (): Promise<IncomingMessage> => new Promise((resolve, reject) => {
      const req = https.request({
        host: address.host,
        port: address.port,
        method,
        path: pathAndQuery,
        headers,
        agent: poolFor(this.target),
        ...(this.signal ? { signal: this.signal } : {}),
        ...this.pinnedTls(),
      });
      req.setTimeout(options.idleTimeoutMs, () => req.destroy(timeoutError()));
      req.once('response', (res) => {
        res.once('error', () => undefined);
        resolve(res);
      });
      req.once('error', (err) => reject(Object.assign(err, { [REUSED]: req.reusedSocket })));
      if (!streamed) return req.end(body);
      const source = body.open();
      source.once('error', (err) => req.destroy(err));
      source.pipe(req);
    });
    try {
      return await attempt();
    } catch (err) {
      // The agent may close an idle kept-alive connection just as a request goes out
      // on it; a read is sent once more on a fresh one (never a write).
      const e = err as NodeJS.ErrnoException & { [REUSED]?: boolean };
      if (e[REUSED] && e.code === 'ECONNRESET' && method === 'GET') {
        try {
          return await attempt();
        } catch (again) {
          throw connectionError(again, this.label, options.idleTimeoutMs);
        }
      }
      throw connectionError(err, this.label, options.idleTimeoutMs);
    }
  }
}

async function readBody(res: IncomingMessage, label: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > MAX_RESPONSE_BYTES) {
        res.destroy();
        throw new UpstreamError(`${label} sent a response larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw new UpstreamError(`the answer from ${label} was cut off`, undefined, 'unreachable');
  }
  return Buffer.concat(chunks);
}
