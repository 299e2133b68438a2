// What a hostile client or a broken target can do to the router's accounting:
// every request ends with its in-flight count released (a leaked count holds
// a drain until drain_timeout on every deploy), and every client gets an
// answer or a closed connection, never a silent hang. Real router process,
// real upstreams (a node:http one and a raw socket one for answers no sane
// server sends).
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../agent/router/client.js';
import {
  routeSet,
  startRouterProcess,
  startUpstream,
  tempDir,
  waitFor,
  type RouterProcess,
  type Upstream,
} from '../support/router-fixtures.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let app: Upstream;
let broken: RawUpstream;
let version = 0;

interface RawUpstream {
  target: string;
  /** The connection of the last request answered, to send more on it. */
  last(): net.Socket | undefined;
  close(): Promise<void>;
}

/** A target that answers each request head with the bytes `answer(path)` gives, then does what `after` says. */
async function startRawUpstream(answer: (path: string) => { bytes: string; then: 'end' | 'destroy' | 'keep' }): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  let last: net.Socket | undefined;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const path = head.split(' ')[1] ?? '/';
      head = head.slice(end + 4);
      const { bytes, then } = answer(path);
      last = socket;
      socket.write(bytes, 'latin1');
      if (then === 'end') socket.end();
      else if (then === 'destroy') setImmediate(() => socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    last: () => last,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function routes(list: Parameters<typeof routeSet>[1]): Promise<void> {
  version += 1;
  await createRouterClient(router.socketPath).putRoutes(routeSet(version, list));
}

async function inflight(target: string): Promise<number> {
  return (await createRouterClient(router.socketPath).targets())[target]?.inflight ?? 0;
}

/** Like connection(), but the client never closes its side after the router's answer (half-open). */
function halfOpenConnection(bytes: string): { socket: net.Socket; reply: Promise<string> } {
  const socket = net.connect({ port: router.port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.write(bytes, 'latin1'));
  socket.on('error', () => undefined);
  const reply = new Promise<string>((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('end', () => resolve(text));
  });
  return { socket, reply };
}

/** Writes `bytes` on a new connection; `reply` resolves with what came back once the connection closed. */
function connection(bytes: string): { socket: net.Socket; reply: Promise<string> } {
  const socket = net.connect(router.port, '127.0.0.1', () => socket.write(bytes, 'latin1'));
  const reply = new Promise<string>((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error('the router neither answered nor closed')));
  });
  return { socket, reply };
}

before(async () => {
  dir = await tempDir();
  app = await startUpstream('app');
  broken = await startRawUpstream((path) => {
    switch (path) {
      // Dies in the middle of its body.
      case '/cut':
        return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial', then: 'destroy' };
      // A status line whose reason phrase Node will not write.
      case '/bad-reason':
        return { bytes: 'HTTP/1.1 200 O\x7fK\r\nContent-Length: 2\r\n\r\nok', then: 'keep' };
      // Refuses a WebSocket upgrade with an ordinary answer.
      case '/no-websocket':
        return { bytes: 'HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope', then: 'keep' };
      // RFC 9110 §8.6: a 304 may declare the length of the representation it does not send.
      case '/not-modified':
        return { bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1000\r\n\r\n', then: 'keep' };
      case '/not-modified-close':
        return { bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1000\r\n\r\n', then: 'end' };
      // Switches protocols on a request that asked for no upgrade.
      case '/switch':
        return { bytes: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', then: 'end' };
      // The first half of its body; the test sends the rest.
      case '/half':
        return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789', then: 'keep' };
      default:
        return { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', then: 'keep' };
    }
  });
  router = await startRouterProcess(dir.path);
});

after(async () => {
  router.child.kill('SIGTERM');
  await router.exited;
  await app.close();
  await broken.close();
  await dir.remove();
});

test('pipelined requests are served one at a time, and none stays in flight when the connection dies under them', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target }]);
  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: demo.test\r\n\r\n`;
  // Two hanging requests on one connection: the second must not reach the app while the first is open.
  const client = connection(get('/hang') + get('/hang'));
  await waitFor('the first request at the app', () => (app.hits.get('/hang') ?? 0) >= 1);
  // The client gives up: both requests are over, nothing stays counted against the target.
  const hung = app.hangsClosed();
  client.socket.destroy();
  await client.reply;
  await waitFor('the hanging request closed at the app', () => app.hangsClosed() > hung);
  // A count left behind here would hold every drain of this target until drain_timeout.
  await waitFor('no request in flight', async () => (await inflight(app.target)) === 0);
  assert.equal(app.hits.get('/hang'), 1, 'the second pipelined request never reached the app');

  // A target cutting the first answer kills the connection the second answer was queued on.
  await routes([{ hosts: ['demo.test'], target: broken.target }]);
  await connection(get('/cut') + get('/')).reply;
  await waitFor('no request in flight after a cut pipelined answer', async () => (await inflight(broken.target)) === 0);
});

test('a target answer that cannot be relayed is a 502, not a client left hanging', async () => {
  await routes([{ hosts: ['demo.test'], target: broken.target }]);
  for (const path of ['/bad-reason', '/switch']) {
    const reply = await connection(`GET ${path} HTTP/1.1\r\nHost: demo.test\r\nConnection: close\r\n\r\n`).reply;
    assert.match(reply, /^HTTP\/1\.1 502 Bad Gateway\r\n/, path);
  }
  await waitFor('no request in flight', async () => (await inflight(broken.target)) === 0);
});

test('an upgrade request answered without switching is over once answered, even if the client keeps its connection open', async () => {
  await routes([{ hosts: ['demo.test'], target: broken.target }]);
  const upgrade = (path: string, protocol: string): string =>
    `GET ${path} HTTP/1.1\r\nHost: demo.test\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  // A WebSocket the target refuses, and an h2c upgrade (served as a plain request): the router ends its side after the answer.
  const refused = halfOpenConnection(upgrade('/no-websocket', 'websocket'));
  const plain = halfOpenConnection(upgrade('/', 'h2c'));
  assert.match(await refused.reply, /^HTTP\/1\.1 403 /);
  assert.match(await plain.reply, /^HTTP\/1\.1 200 /);
  // Counted until the connection closes: a client holding it must not hold the target's drain.
  await waitFor('no upgrade request in flight', async () => (await inflight(broken.target)) === 0, 20_000);
  refused.socket.destroy();
  plain.socket.destroy();
});

test('a 304 declaring its representation length reaches the client as a 304', async () => {
  await routes([{ hosts: ['demo.test'], target: broken.target, response_timeout: 5 }]);
  for (const path of ['/not-modified', '/not-modified-close']) {
    const reply = await connection(`GET ${path} HTTP/1.1\r\nHost: demo.test\r\nIf-None-Match: "v1"\r\nConnection: close\r\n\r\n`).reply;
    assert.match(reply, /^HTTP\/1\.1 304 Not Modified\r\n/, path);
    assert.match(reply, /\r\nETag: "v1"\r\n/, path);
  }
  await waitFor('no request in flight', async () => (await inflight(broken.target)) === 0);
});

test('a malformed request after one being answered cuts the connection; no 400 is written into the answer under way', async () => {
  await routes([{ hosts: ['demo.test'], target: broken.target }]);
  const client = connection('GET /half HTTP/1.1\r\nHost: demo.test\r\n\r\n');
  let seen = '';
  client.socket.on('data', (d: string) => (seen += d));
  await waitFor('the first half of the answer', () => seen.endsWith('0123456789'));
  client.socket.write('NOT HTTP\r\n\r\n');
  const reply = await client.reply;
  broken.last()?.write('abcdefghij');
  // A 400 here would be read as the last 10 bytes of the 200's body: a complete-looking, wrong answer.
  assert.doesNotMatch(reply, /400 Bad Request/);
  assert.ok(reply.endsWith('0123456789'), 'the answer is cut where it was');
  await waitFor('no request in flight', async () => (await inflight(broken.target)) === 0);
});

test('a request body in a transfer coding other than chunked alone is refused with 501, the app sent nothing', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target }]);
  const before = app.hits.get('/upload') ?? 0;
  // gzip then chunked: Node takes it, but the app would get the gzip bytes as the body with nothing saying so.
  const reply = await connection('POST /upload HTTP/1.1\r\nHost: demo.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n').reply;
  assert.match(reply, /^HTTP\/1\.1 501 /);
  assert.equal(app.hits.get('/upload') ?? 0, before, 'the app received nothing');
  const chunked = await connection('POST /upload HTTP/1.1\r\nHost: demo.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n').reply;
  assert.match(chunked, /^HTTP\/1\.1 200 [^]*"bytes":5/, 'positive control: plain chunked passes');
});

test('a connection with more pipelined requests waiting than any client sends is closed', async () => {
  await routes([{ hosts: ['demo.test'], target: app.target }]);
  const hung = app.hangsClosed();
  const hits = app.hits.get('/hang') ?? 0;
  // Each waiting request costs the router about 2 KB for some 40 bytes sent: thousands per connection would exhaust its memory.
  const reply = await connection('GET /hang HTTP/1.1\r\nHost: demo.test\r\n\r\n'.repeat(1000)).reply;
  assert.equal(reply, '', 'closed without an answer');
  await waitFor('no request in flight', async () => (await inflight(app.target)) === 0);
  // The first may or may not have reached the app before the close; nothing after it did, and nothing is left open there.
  const reached = (app.hits.get('/hang') ?? 0) - hits;
  assert.ok(reached <= 1, `${reached} requests reached the app`);
  await waitFor('nothing left open at the app', () => app.hangsClosed() - hung === reached);

  // Positive control: a client pipelining a modest number of requests gets every answer, in order.
  const get = 'GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n';
  const answers = await connection(get.repeat(19) + 'GET / HTTP/1.1\r\nHost: demo.test\r\nConnection: close\r\n\r\n').reply;
  assert.equal(answers.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 20);
});

test('an upgrade request pipelined behind a request being answered cuts the connection; nothing is written into that answer', async () => {
  await routes([{ hosts: ['demo.test'], target: broken.target }]);
  const client = connection('GET /half HTTP/1.1\r\nHost: demo.test\r\n\r\n');
  let seen = '';
  client.socket.on('data', (d: string) => (seen += d));
  await waitFor('the first half of the answer', () => seen.endsWith('0123456789'));
  client.socket.write('GET /no-websocket HTTP/1.1\r\nHost: demo.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  const reply = await client.reply;
  // The target's 403 (or a 101) written here would be read as the rest of the first answer's body.
  assert.doesNotMatch(reply, /403 Forbidden/);
  assert.ok(reply.endsWith('0123456789'), 'the answer is cut where it was');
  await waitFor('no request in flight', async () => (await inflight(broken.target)) === 0);
});
