// Caps the client connections of listening servers (the agent's HTTPS API, the
// router's HTTP and HTTPS proxies, which share one budget): in total through
// Node's own server.maxConnections and a count over all the servers, per
// client address by counting raw sockets from 'connection' to 'close'. All
// count a connection from TCP accept to close, so TLS handshakes in progress
// and upgraded (WebSocket) sockets hold a slot as long as they live. Limits
// and their reasoning: agent/core/connection-budget.ts.

import { readFileSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { addressKey, cappedByOpenFiles, openFilesLimit, type ConnectionLimits } from './core/connection-budget.js';

export interface GuardedLimits {
  maxConnections: number;
  maxPerAddress: number;
  /** The process's open-file limit the total was fitted under, when known. */
  openFiles: number | undefined;
}

// One warning per kind per interval: a flood must not flood the log too.
const WARN_INTERVAL_MS = 60_000;

export function guardConnections(servers: Server | readonly Server[], limits: ConnectionLimits, warn: (message: string) => void): GuardedLimits {
  const openFiles = readOpenFilesLimit();
  const maxConnections = cappedByOpenFiles(limits.maxConnections, openFiles);
  const maxPerAddress = Math.min(limits.maxPerAddress, maxConnections);
  if (maxConnections < limits.maxConnections) {
    warn(`connection cap lowered from ${limits.maxConnections} to ${maxConnections} to keep file descriptors in reserve (open-file limit ${openFiles})`);
  }
  const lastWarned = new Map<string, number>();
  const warnOnce = (kind: string, message: string): void => {
    const now = Date.now();
    if (now - (lastWarned.get(kind) ?? 0) < WARN_INTERVAL_MS) return;
    lastWarned.set(kind, now);
    warn(message);
  };

  const perAddress = new Map<string, number>();
  let total = 0;
  const refuseTotal = () => warnOnce('total', `refusing connections: ${maxConnections} open (the total cap)`);
  const list: readonly Server[] = 'listen' in servers ? [servers as Server] : (servers as readonly Server[]);
  for (const server of list) {
    // Node closes sockets over maxConnections (of this server alone) before 'connection' is emitted.
    server.maxConnections = maxConnections;
    server.on('drop', refuseTotal);
    server.on('connection', (socket: Socket) => {
      if (total >= maxConnections) {
        refuseTotal();
        socket.destroy();
        return;
      }
      const key = addressKey(socket.remoteAddress);
      const open = perAddress.get(key) ?? 0;
      if (open >= maxPerAddress) {
        warnOnce(`address ${key}`, `refusing connections from ${key}: ${open} open (the per-address cap)`);
        socket.destroy();
        return;
      }
      total += 1;
      perAddress.set(key, open + 1);
      socket.once('close', () => {
        total -= 1;
        const left = (perAddress.get(key) ?? 1) - 1;
        if (left <= 0) perAddress.delete(key);
        else perAddress.set(key, left);
      });
    });
  }
  return { maxConnections, maxPerAddress, openFiles };
}

function readOpenFilesLimit(): number | undefined {
  try {
    return openFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    // Not Linux: the configured caps apply as given.
    return undefined;
  }
}
