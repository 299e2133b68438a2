// Serves the API over HTTPS with the agent's own (pinned) certificate.
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { UpstreamError } from '../../shared/errors.js';
import type { ListenAddress } from '../config.js';

export interface ApiServer {
  address: AddressInfo;
  /** Stops accepting, then ends open connections (SSE streams) after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

export function startApiServer(
  app: { fetch: (req: Request, env?: unknown) => Response | Promise<Response> },
  opts: {
    listen: ListenAddress;
    tlsCertPem: string;
    tlsKeyPem: string;
    /** Hooks WebSocket upgrades onto the server (agent/api/websocket.ts). */
    attachUpgrades?: (server: Server) => void;
  },
): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    let server: Server;
    const onError = (e: NodeJS.ErrnoException) =>
      reject(new UpstreamError(`cannot listen on ${opts.listen.host}:${opts.listen.port}: ${e.code ?? e.message}`, undefined, 'listen_failed'));
    server = serve(
      {
        fetch: app.fetch,
        hostname: opts.listen.host,
        port: opts.listen.port,
        createServer,
        serverOptions: { key: opts.tlsKeyPem, cert: opts.tlsCertPem, minVersion: 'TLSv1.2' },
      },
      (info) => {
        server.off('error', onError);
        resolve({ address: info, close: (graceMs = 2000) => closeServer(server, graceMs) });
      },
    ) as Server;
    // Slow-loris guard: a request must arrive whole within these bounds; responses (SSE) may last.
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.on('error', onError);
    opts.attachUpgrades?.(server);
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
