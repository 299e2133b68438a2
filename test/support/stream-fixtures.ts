// Fixtures for streams through the router: an upstream that speaks WebSocket
// (ws) and server-sent events and says which version it is, a raw socket
// client for requests no well-behaved client sends, and a WebSocket client
// that collects what it receives.

import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { waitFor } from './wait.js';

export interface StreamUpstream {
  name: string;
  target: string;
  port: number;
  /** Headers of the last upgrade request the upstream saw. */
  lastUpgrade: () => http.IncomingHttpHeaders | undefined;
  /** The request target of the last upgrade request, as the upstream received it. */
  lastUpgradeUrl: () => string | undefined;
  /** Open WebSocket connections on the upstream. */
  openSockets: () => number;
  /** Sends the next event on every open `/events` stream. */
  nextEvent(): void;
  close(): Promise<void>;
}

/**
 * WebSocket on any path: echoes `${name}:${message}`. `/refuse` answers the
 * upgrade with 403 and a body instead. `/events` is an SSE stream: one event
 * at once, then one per nextEvent(). Plain requests get the name, or their
 * headers as JSON on `/headers`.
 */
export async function startStreamUpstream(name: string): Promise<StreamUpstream> {
  let lastUpgrade: http.IncomingHttpHeaders | undefined;
  let lastUpgradeUrl: string | undefined;
  const streams = new Set<{ res: http.ServerResponse; n: number }>();
  const server = http.createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const stream = { res, n: 1 };
      res.write(`data: ${name} 1\n\n`);
      streams.add(stream);
      res.on('close', () => streams.delete(stream));
      return;
    }
    if (req.url === '/headers') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.headers));
      return;
    }
    res.end(name);
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    lastUpgrade = req.headers;
    lastUpgradeUrl = req.url;
    if (req.url === '/refuse') {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Reason: test\r\n\r\nnope\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data) => ws.send(`${name}:${String(data)}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    target: `127.0.0.1:${port}`,
    lastUpgrade: () => lastUpgrade,
    lastUpgradeUrl: () => lastUpgradeUrl,
    openSockets: () => wss.clients.size,
    nextEvent() {
      for (const s of streams) {
        s.n += 1;
        s.res.write(`data: ${name} ${s.n}\n\n`);
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface WsClient {
  ws: WebSocket;
  received: string[];
  closed: () => boolean;
  /** Sends `message` and waits for the next message received. */
  ask(message: string): Promise<string>;
  close(): Promise<void>;
}

/** A WebSocket through `port` on `ip` (127.0.0.1) with the given Host; resolves once open. */
export async function openWs(port: number, host: string, path = '/', ip = '127.0.0.1'): Promise<WsClient> {
  const ws = new WebSocket(`ws://${ip}:${port}${path}`, { headers: { host } });
  const received: string[] = [];
  let closed = false;
  ws.on('message', (d) => received.push(String(d)));
  ws.on('close', () => (closed = true));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return {
    ws,
    received,
    closed: () => closed,
    async ask(message) {
      const before = received.length;
      ws.send(message);
      await waitFor(`an answer to ${message}`, () => received.length > before || closed);
      if (received.length <= before) throw new Error(`closed before answering ${message}`);
      return received[before]!;
    },
    async close() {
      ws.close();
      await waitFor('the WebSocket to close', () => closed);
    },
  };
}

export interface SseClient {
  events: string[];
  ended: () => boolean;
  close(): void;
}

/** An SSE request through the router; each `data:` line is recorded as it arrives. */
export async function openSse(port: number, host: string, path = '/events', ip = '127.0.0.1'): Promise<SseClient> {
  const events: string[] = [];
  let ended = false;
  let buffer = '';
  const req = http.get({ host: ip, port, path, headers: { host, accept: 'text/event-stream' }, agent: false });
  req.on('error', () => (ended = true));
  const res = await new Promise<http.IncomingMessage>((resolve) => req.once('response', resolve));
  if (res.statusCode !== 200) throw new Error(`SSE answered ${res.statusCode}`);
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      events.push(buffer.slice(0, end).replace(/^data: /, ''));
      buffer = buffer.slice(end + 2);
    }
  });
  res.on('close', () => (ended = true));
  res.on('error', () => (ended = true));
  return { events, ended: () => ended, close: () => req.destroy() };
}

/** Writes `raw` on a fresh connection and collects everything until the router closes it. */
export function rawExchange(port: number, raw: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(raw));
    let out = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (out += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection stayed open; received so far: ${out.slice(0, 300)}`));
    }, timeoutMs);
  });
}

/** A WebSocket upgrade request head for `path`, with any extra header lines. */
export function upgradeHead(path: string, host: string | undefined, extra = ''): string {
  return (
    `GET ${path} HTTP/1.1\r\n${host === undefined ? '' : `Host: ${host}\r\n`}Connection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`
  );
}
