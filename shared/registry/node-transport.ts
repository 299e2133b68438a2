// The registry transport over node:http(s), written once for both binaries.
// shared/ imports no I/O module, so each binary hands in its `request` (one
// line in agent/registry/transport.ts and cli/registry-transport.ts) and this
// wires it to the Send contract: one hop, the body as a stream, the abort signal
// dropping the connection.

import type { Send } from './exchange.js';

interface NodeResponseLike extends AsyncIterable<Uint8Array> {
  statusCode?: number | undefined;
  headers: Record<string, string | string[] | undefined>;
}

interface NodeRequestLike {
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'response', listener: (res: NodeResponseLike) => void): unknown;
  end(): unknown;
}

/** node:http(s).request, chosen by the binary for the URL's protocol. */
export type NodeRequest = (url: URL, options: { method: string; headers: Record<string, string>; signal: AbortSignal; agent: false }) => NodeRequestLike;

export function nodeTransport(request: NodeRequest): Send {
  return ({ method, url, headers, signal }) =>
    new Promise((resolve, reject) => {
      // agent: false — one connection per lookup; nothing is kept open between them.
      const req = request(url, { method, headers, signal, agent: false });
      // `on`, not `once`: an abort after the answer still emits an error here.
      req.on('error', reject);
      req.once('response', (res) =>
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const value = res.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
          body: res,
        }),
      );
      req.end();
    });
}
