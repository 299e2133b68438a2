// A signed GET to a real agent whose answer is read as it arrives, or not read
// at all: for tests of long answers (logs) and of what a slow reader costs the
// agent. TLS is pinned to the agent's cert, as in signed-client.ts.
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { signRequest } from '../../shared/request-token.js';
import type { BerthHost } from './berth-host.js';
import type { OperatorKey } from './signed-client.js';

export interface OpenStream {
  status: number;
  res: IncomingMessage;
  /**
   * Reads the rest of the answer (resuming a paused one): its size and its
   * last `keep` bytes as text, so a long answer costs the test no memory.
   */
  drain(keep?: number): Promise<{ bytes: number; tail: string }>;
  close(): void;
}

/**
 * Sends the request and resolves once the status line arrived; the body is
 * paused until `text()` is called, so the agent sees a reader that does not read.
 */
export async function openSignedStream(host: BerthHost, key: OperatorKey, aud: string, path: string): Promise<OpenStream> {
  const token = await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud, method: 'GET', pathAndQuery: path, body: '' });
  const pem = readFileSync(join(host.stateDir, 'tls/cert.pem'), 'utf8');
  const fingerprint = new X509Certificate(pem).fingerprint256;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: host.ip,
        port: host.agentPort,
        method: 'GET',
        path,
        ca: pem,
        agent: false,
        checkServerIdentity: (_name, cert) => (cert.fingerprint256 === fingerprint ? undefined : new Error('certificate does not match the pin')),
        headers: { authorization: `Berth ${token}`, accept: 'application/x-ndjson' },
      },
      (res) => {
        res.pause();
        let done: Promise<{ bytes: number; tail: string }> | undefined;
        resolve({
          status: res.statusCode ?? 0,
          res,
          drain: (keep = 64 * 1024) =>
            (done ??= new Promise((ok, fail) => {
              let bytes = 0;
              const kept: Buffer[] = [];
              let keptBytes = 0;
              res.on('data', (d: Buffer) => {
                bytes += d.length;
                kept.push(d);
                keptBytes += d.length;
                while (kept.length > 1 && keptBytes - kept[0]!.length >= keep) keptBytes -= kept.shift()!.length;
              });
              res.on('end', () => ok({ bytes, tail: Buffer.concat(kept).toString('utf8').slice(-keep) }));
              res.on('error', fail);
              res.resume();
            })),
          close: () => req.destroy(),
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
