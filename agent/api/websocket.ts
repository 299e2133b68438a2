// The WebSocket adapter (@hono/node-ws and ws are imported only here). Routes
// get a narrow `upgrade(c, handlers)`; the composition root attaches the
// upgrade listener to the HTTPS server once it exists.
//
// The upgrade request runs through the Hono app like any other request (body
// cap, signed token, scope), so a refused upgrade is an ordinary error
// response. @hono/node-ws's own injectWebSocket answers refusals with an empty
// body; ours writes the JSON error, so the CLI can say why.
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createNodeWebSocket } from '@hono/node-ws';
import type { Context, Hono } from 'hono';
import type { WebSocket } from 'ws';

export interface WsPeer {
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  /** Bytes sent but not yet written to the network (a slow or stalled client). */
  bufferedAmount(): number;
  /** Resolves once everything sent so far was written, or the socket closed. */
  drained(): Promise<void>;
}

export interface WsHandlers {
  onOpen(peer: WsPeer): void;
  /** Text frames arrive as strings, binary frames as bytes. */
  onMessage(data: string | Uint8Array, peer: WsPeer): void;
  onClose(): void;
}

export type Upgrade = (c: Context, handlers: WsHandlers) => Promise<Response>;

export interface WebSocketSupport {
  upgrade: Upgrade;
  /** Routes upgrade requests of `server` through `app`. */
  attach(server: Pick<Server, 'on'>, app: Pick<Hono, 'request'>): void;
  /** Closes every open socket (shutdown). */
  closeAll(): void;
}

/** Frames larger than this close the socket: stdin comes in small pieces. */
const MAX_FRAME_BYTES = 1024 * 1024;
/** A peer that has not answered the last ping when the next is due is dropped (a dead network holds no process). */
const HEARTBEAT_MS = 30_000;

export function createWebSocketSupport(opts: { heartbeatMs?: number } = {}): WebSocketSupport {
  // The app is only needed by @hono/node-ws's own injector, which we do not use.
  const nodeWs = createNodeWebSocket({ app: undefined as unknown as Hono });
  nodeWs.wss.options.maxPayload = MAX_FRAME_BYTES;
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;

  const upgrade: Upgrade = async (c, h) => {
    let peer: WsPeer | undefined;
    const peerOf = (ws: WebSocket): WsPeer => {
      peer ??= openPeer(ws, heartbeatMs);
      return peer;
    };
    const response = await nodeWs.upgradeWebSocket(c, {
      onOpen: (_evt, ctx) => {
        if (ctx.raw) h.onOpen(peerOf(ctx.raw));
      },
      onMessage: (evt, ctx) => {
        const data = evt.data as unknown;
        if (!ctx.raw) return;
        const p = peerOf(ctx.raw);
        if (typeof data === 'string') h.onMessage(data, p);
        else if (data instanceof ArrayBuffer) h.onMessage(new Uint8Array(data), p);
      },
      onClose: () => h.onClose(),
      onError: () => undefined,
    });
    return response;
  };

  return {
    upgrade,
    attach(server, app) {
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        socket.on('error', () => socket.destroy());
        void handleUpgrade(app, nodeWs.wss, request, socket, head).catch(() => socket.destroy());
      });
    },
    closeAll() {
      for (const ws of nodeWs.wss.clients) ws.terminate();
    },
  };
}

/** The peer of an open socket, pinged every `heartbeatMs` until it closes. */
function openPeer(ws: WebSocket, heartbeatMs: number): WsPeer {
  let alive = true;
  ws.on('pong', () => (alive = true));
  const beat = setInterval(() => {
    if (!alive) return ws.terminate();
    alive = false;
    ws.ping();
  }, heartbeatMs);
  beat.unref();
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  void closed.then(() => clearInterval(beat));
  let lastWrite: Promise<void> = Promise.resolve();
  return {
    send: (data) => {
      // ws calls back once the frame is written to the network (or failed on a closed socket).
      lastWrite = new Promise((resolve) => ws.send(typeof data === 'string' ? data : Buffer.from(data), () => resolve()));
    },
    close: (code, reason) => ws.close(code, reason),
    bufferedAmount: () => ws.bufferedAmount,
    drained: () => Promise.race([lastWrite, closed]),
  };
}

async function handleUpgrade(
  app: Pick<Hono, 'request'>,
  wss: ReturnType<typeof createNodeWebSocket>['wss'],
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const headers = new Headers();
  for (const [key, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers.append(key, Array.isArray(value) ? (value[0] ?? '') : value);
  }
  const env: Record<string | symbol, unknown> = { incoming: request, outgoing: undefined };
  const response = await app.request(new URL(request.url ?? '/', 'http://localhost'), { headers }, env);
  // @hono/node-ws marks the env of a request it agreed to upgrade with its connection symbol.
  const accepted = response.status === 200 && Object.getOwnPropertySymbols(env).length > 0;
  if (!accepted) {
    const refused = response.status >= 400;
    const status = refused ? response.status : 400;
    const body = refused
      ? Buffer.from(await response.arrayBuffer())
      : Buffer.from(JSON.stringify({ error: { code: 'not_websocket', message: `${request.url ?? ''} does not accept WebSocket upgrades`.slice(0, 300) } }));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.end(body);
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
}
