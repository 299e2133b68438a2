// Connection caps across router workers (--max-connections, --max-connections-per-ip
// stay exact, not divided): a worker's listeners accept paused (no byte read), the
// worker asks the primary for a slot, and hands the socket to its HTTP/TLS server
// only once granted; the primary counts every worker's connections in one
// ConnectionBudget. Costs an IPC round trip per new connection (the accepts and
// closes of one event loop turn share one message), nothing per request on a
// kept-alive one (docs/router.md "Workers").

import type { Server, Socket } from 'node:net';
import { ConnectionBudget, type GuardedLimits } from '../connection-guard.js';
import { addressKey, type ConnectionLimits } from '../core/connection-budget.js';
import type { WorkerMessage } from './cluster-protocol.js';

type Listener = (socket: Socket) => void;

/** Worker side: installs the remote check on `servers` (after every other 'connection' listener is attached). */
export class RemoteConnectionGuard {
  readonly #pending = new Map<number, { socket: Socket; server: Server; inner: readonly Listener[] }>();
  #next = 0;
  #open: Array<[number, string]> = [];
  #close: string[] = [];
  #flushing = false;

  constructor(private readonly send: (m: WorkerMessage) => void) {}

  #flush = (): void => {
    this.#flushing = false;
    const open = this.#open;
    const close = this.#close;
    this.#open = [];
    this.#close = [];
    this.send({ t: 'conns', open, close });
  };

  #queue(open: [number, string] | undefined, close: string | undefined): void {
    if (open) this.#open.push(open);
    if (close !== undefined) this.#close.push(close);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(this.#flush);
  }

  install(servers: readonly Server[], limits: ConnectionLimits): GuardedLimits {
    // Only for the log line and Node's own per-server cap; the primary's budget decides.
    const local = new ConnectionBudget(limits, () => undefined).limits;
    for (const server of servers) {
      server.maxConnections = local.maxConnections;
      // The socket reads nothing until it is granted (a refused one never reaches the HTTP parser or a TLS handshake).
      (server as Server & { pauseOnConnect: boolean }).pauseOnConnect = true;
      const inner = server.listeners('connection') as Listener[];
      server.removeAllListeners('connection');
      server.on('connection', (socket: Socket) => {
        const conn = this.#next++;
        this.#pending.set(conn, { socket, server, inner });
        this.#queue([conn, addressKey(socket.remoteAddress)], undefined);
      });
    }
    return local;
  }

  /** The primary's answer for connection `conn`. */
  granted(conn: number, ok: boolean): void {
    const p = this.#pending.get(conn);
    if (!p) return;
    this.#pending.delete(conn);
    const { socket, server, inner } = p;
    if (!ok || socket.destroyed) {
      if (ok) this.#queue(undefined, addressKey(socket.remoteAddress));
      socket.destroy();
      return;
    }
    const key = addressKey(socket.remoteAddress);
    socket.once('close', () => this.#queue(undefined, key));
    for (const listener of inner) listener.call(server, socket);
    socket.resume();
  }
}

/** Primary side: one budget for all workers; a worker's slots are freed when it exits. */
export class SharedConnectionBudget {
  readonly #budget: ConnectionBudget;
  readonly #byWorker = new Map<number, Map<string, number>>();

  constructor(limits: ConnectionLimits, warn: (message: string) => void) {
    this.#budget = new ConnectionBudget(limits, warn);
  }

  get limits(): GuardedLimits {
    return this.#budget.limits;
  }

  open(worker: number, key: string): boolean {
    if (!this.#budget.open(key)) return false;
    const mine = this.#byWorker.get(worker) ?? new Map<string, number>();
    this.#byWorker.set(worker, mine);
    mine.set(key, (mine.get(key) ?? 0) + 1);
    return true;
  }

  close(worker: number, key: string): void {
    const mine = this.#byWorker.get(worker);
    const n = mine?.get(key) ?? 0;
    // A close for a slot this worker does not hold is ignored, so counts never go below what is open.
    if (!mine || n === 0) return;
    if (n === 1) mine.delete(key);
    else mine.set(key, n - 1);
    this.#budget.close(key);
  }

  /** The worker exited: its connections died with it. */
  workerGone(worker: number): void {
    for (const [key, n] of this.#byWorker.get(worker) ?? []) for (let i = 0; i < n; i += 1) this.#budget.close(key);
    this.#byWorker.delete(worker);
  }
}
