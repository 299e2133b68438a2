// The HTTPS listener: the same request handler as plain HTTP behind TLS, the
// certificate picked by SNI from the certificate store (the exact host, then a
// one-label wildcard). A name without a certificate, or no SNI at all, fails
// the handshake (alert 40), as with kamal-proxy: there is no default
// certificate, so the listener runs before any certificate exists.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpTimeouts } from '../core/connection-budget.js';
import type { CertificateStore } from './certificates.js';

// One line per interval: port scanners and broken clients must not flood the log.
const TLS_ERROR_LOG_INTERVAL_MS = 10_000;

export function createHttpsProxyServer(
  certificates: CertificateStore,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { headerTimeoutMs: number; idleTimeoutMs: number; log: (message: string) => void },
): Server {
  const server = createServer(
    {
      // Half the header budget goes to the handshake (Node's default 120 s would be a slowloris door).
      ...httpTimeouts(opts.headerTimeoutMs, true),
      requestTimeout: 0,
      minVersion: 'TLSv1.2',
      SNICallback: (name, cb) => cb(null, certificates.contextFor(name)),
    },
    handler,
  );
  server.timeout = opts.idleTimeoutMs;
  let lastLogged = 0;
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
    socket.destroy();
    const now = Date.now();
    if (now - lastLogged < TLS_ERROR_LOG_INTERVAL_MS) return;
    lastLogged = now;
    opts.log(`tls handshake failed from ${socket.remoteAddress ?? '?'}: ${err.code ?? err.message}`);
  });
  return server;
}
