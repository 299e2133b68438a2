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
  const budget = new ConnectionBudget(limits, warn);
  const { maxConnections } = budget.limits;
  const list: readonly Server[] = 'listen' in servers ? [servers as Server] : (servers as readonly Server[]);
  for (const server of list) {
    // Node closes sockets over maxConnections (of this server alone) before 'connection' is emitted.
    server.maxConnections = maxConnections;
    server.on('drop', () => budget.refusedTotal());
    server.on('connection', (socket: Socket) => {
      const key = addressKey(socket.remoteAddress);
      if (!budget.open(key)) {
        socket.destroy();
        return;
      }
      socket.once('close', () => budget.close(key));
    });
  }
  return budget.limits;
}

/**
 * The counts behind the caps: a total and one per client address key. Shared
 * by guardConnections and the router's cluster primary, which counts the
 * connections of all its workers (agent/router/cluster-connections.ts).
 */
export class ConnectionBudget {
  readonly limits: GuardedLimits;
  readonly #perAddress = new Map<string, number>();
  readonly #lastWarned = new Map<string, number>();
  readonly #warn: (message: string) => void;
  #total = 0;

  constructor(limits: ConnectionLimits, warn: (message: string) => void, openFiles = readOpenFilesLimit()) {
    const maxConnections = cappedByOpenFiles(limits.maxConnections, openFiles);
    this.limits = { maxConnections, maxPerAddress: Math.min(limits.maxPerAddress, maxConnections), openFiles };
    this.#warn = warn;
    if (maxConnections < limits.maxConnections) {
      warn(`connection cap lowered from ${limits.maxConnections} to ${maxConnections} to keep file descriptors in reserve (open-file limit ${openFiles})`);
    }
  }

  /** Takes a slot for a connection from `key`; false (and a rate-limited warning) when a cap is reached. */
  open(key: string): boolean {
    if (this.#total >= this.limits.maxConnections) {
      this.refusedTotal();
      return false;
    }
    const open = this.#perAddress.get(key) ?? 0;
    if (open >= this.limits.maxPerAddress) {
      this.#warnOnce(`address ${key}`, `refusing connections from ${key}: ${open} open (the per-address cap)`);
      return false;
    }
    this.#total += 1;
    this.#perAddress.set(key, open + 1);
    return true;
  }

  /** Gives back the slot `open(key)` took. */
  close(key: string): void {
    this.#total -= 1;
    const left = (this.#perAddress.get(key) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(key);
    else this.#perAddress.set(key, left);
  }

  refusedTotal(): void {
    this.#warnOnce('total', `refusing connections: ${this.limits.maxConnections} open (the total cap)`);
  }

  #warnOnce(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.#lastWarned.get(kind) ?? 0) < WARN_INTERVAL_MS) return;
    this.#lastWarned.set(kind, now);
    this.#warn(message);
  }
}

function readOpenFilesLimit(): number | undefined {
  try {
    return openFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    // Not Linux: the configured caps apply as given.
    return undefined;
  }
}
