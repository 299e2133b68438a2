// One registry request as both binaries make it, over a transport each binary
// injects (its node:http(s) adapter): here the rules, there the sockets. The
// rules: redirects followed as fetch follows them (an Authorization header
// stays on its origin), none at all for a request carrying a password, one
// deadline over every hop and the body, and a cap on the body read.

import { RegistryError } from '../errors.js';

/** One hop, as the transport sends it: no redirect following, no body cap. */
export interface HopRequest {
  method: 'HEAD' | 'GET';
  url: URL;
  headers: Record<string, string>;
  /** Aborted at the deadline or when the body is too large: the transport drops the connection. */
  signal: AbortSignal;
}

export interface HopResponse {
  status: number;
  header(name: string): string | undefined;
  body: AsyncIterable<Uint8Array>;
}

/** The transport a binary injects (agent/registry/transport.ts, cli/registry-transport.ts). */
export type Send = (request: HopRequest) => Promise<HopResponse>;

/** A registry's answer, its body read whole (bodies here are small: manifests, tokens, errors). */
export interface RegistryResponse {
  status: number;
  header(name: string): string | undefined;
  body: Buffer;
}

export interface ExchangeOptions {
  follow: boolean;
  deadline: number;
  maxBytes: number;
  /** The body's name in the error when it is too large. */
  what: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;

/** Thrown when the deadline passes; the caller words it ("no answer within 30s"). */
export class DeadlineError extends Error {
  constructor() {
    super('timed out');
  }
}

export async function exchange(send: Send, method: 'HEAD' | 'GET', target: URL, headers: Record<string, string>, o: ExchangeOptions): Promise<RegistryResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineError()), Math.max(1, o.deadline - Date.now()));
  try {
    let url = target;
    let sent = headers;
    for (let hops = 0; ; hops++) {
      const answer = await send({ method, url, headers: sent, signal: controller.signal });
      const body = await readCapped(answer, o.maxBytes, o.what, controller);
      const location = answer.header('location');
      if (!(o.follow && REDIRECT_STATUSES.has(answer.status) && location)) {
        return { status: answer.status, header: (name) => answer.header(name), body };
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new Error(`invalid redirect to ${location.slice(0, 100)}`);
      }
      if (hops >= MAX_REDIRECTS) throw new Error('too many redirects');
      if (next.origin !== url.origin) {
        const { Authorization: _auth, authorization: _lower, ...rest } = sent;
        sent = rest;
      }
      url = next;
    }
  } catch (err) {
    // An abort surfaces as the transport's AbortError: report why it was aborted.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(timer);
  }
}

async function readCapped(answer: HopResponse, maxBytes: number, what: string, controller: AbortController): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of answer.body) {
    size += chunk.length;
    if (size > maxBytes) {
      controller.abort(new RegistryError('upstream_failed', 502, `${what} is larger than ${maxBytes} bytes`, undefined, { status: answer.status }));
      throw controller.signal.reason;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
