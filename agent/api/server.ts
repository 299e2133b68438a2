// Serves the API over HTTPS with the agent's own (pinned) certificate.
import { createServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { getRequestListener, serve } from '@hono/node-server';
import { UpstreamError } from '../../shared/errors.js';
import type { ListenAddress } from '../config.js';
import { guardConnections, type GuardedLimits } from '../connection-guard.js';
import { enforceBodyDeadline, REQUEST_TIMEOUT_MS } from './body-deadline.js';
import { httpTimeouts, type ConnectionLimits } from '../core/connection-budget.js';
import { listenOnSocket } from '../router/control.js';


export interface ApiServer {
  address: AddressInfo;
  /** The connection caps in force (the total possibly lowered to fit the open-file limit). */
  limits: GuardedLimits;
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
    limits: ConnectionLimits;
    warn: (message: string) => void;
  },
): Promise<ApiServer> {
  return new Promise((resolve, reject) => {
    let server: Server;
    let limits: GuardedLimits;
    const timeouts = httpTimeouts(opts.limits.headerTimeoutMs, true);
    const onError = (e: NodeJS.ErrnoException) =>
      reject(new UpstreamError(`cannot listen on ${opts.listen.host}:${opts.listen.port}: ${e.code ?? e.message}`, undefined, 'listen_failed'));
    server = serve(
      {
        fetch: app.fetch,
        hostname: opts.listen.host,
        port: opts.listen.port,
        createServer,
        serverOptions: {
          key: opts.tlsKeyPem,
          cert: opts.tlsCertPem,
          minVersion: 'TLSv1.2',
          ...timeouts,
          // The body deadline is enforceBodyDeadline's (the restore upload may lengthen it).
          // Upgraded (WebSocket) sockets leave the HTTP parser, so it never reaches them.
          requestTimeout: 0,
        },
      },
      (info) => {
        server.off('error', onError);
        resolve({ address: info, limits, close: (graceMs = 2000) => closeServer(server, graceMs) });
      },
    ) as Server;
    limits = guardConnections(server, opts.limits, opts.warn);
    enforceBodyDeadline(server, Math.max(REQUEST_TIMEOUT_MS, timeouts.headersTimeout));
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

/**
 * The webhook socket: plain HTTP on a unix socket (mode 0600; the router runs
 * as the same user) where the router forwards /.berth/webhooks/ requests from
 * every app host. `app` is the API reduced to its webhook route (webhookOnly).
 */
export async function startWebhookSocket(
  app: { fetch: (req: Request, env?: unknown) => Response | Promise<Response> },
  socketPath: string,
): Promise<{ close(): Promise<void> }> {
  const server = createHttpServer({ requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: 10_000 }, getRequestListener(app.fetch));
  await listenOnSocket(server, socketPath, 'agent');
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
