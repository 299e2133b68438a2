// Kamal's whole-body buffering (`buffering.requests`, `responses`, `memory`)
// against the real router process: what the app and the client see, and the
// router's spill files (read from /proc: they are unlinked as soon as opened).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startRouterProcess, tempDir, waitFor, type RouterProcess } from '../../support/router-fixtures.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface App {
  target: string;
  /** Requests that reached the app, by path. */
  seen: Map<string, number>;
  /** Bytes the gated answers have written so far. */
  gatedWritten: () => number;
  openGate(): void;
  close(): Promise<void>;
}

/**
 * `/upload` answers what it got (length, hash, headers); `/gated?bytes=N&first=M`
 * declares N bytes, sends M and the rest once the test opens the gate; `/sse`
 * and `/chunked` send a first part and end at the gate; `/big?bytes=N`,
 * `/empty` (204), `/notmod` (304).
 */
async function startApp(): Promise<App> {
  const seen = new Map<string, number>();
  let gate: Array<() => void> = [];
  let gatedWritten = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.set(url.pathname, (seen.get(url.pathname) ?? 0) + 1);
    const num = (k: string): number => Number(url.searchParams.get(k));
    switch (url.pathname) {
      case '/upload': {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          res.end(JSON.stringify({ bytes: body.length, sha256: sha256(body), length: req.headers['content-length'] ?? null, coding: req.headers['transfer-encoding'] ?? null }));
        });
        return;
      }
      case '/gated': {
        const body = Buffer.alloc(num('bytes'), 'g');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
        res.write(body.subarray(0, num('first')), () => (gatedWritten += num('first')));
        gate.push(() => res.end(body.subarray(num('first'))));
        return;
      }
      case '/sse':
      case '/chunked':
        res.writeHead(200, { 'content-type': url.pathname === '/sse' ? 'text/event-stream' : 'text/plain' });
        res.write(url.pathname === '/sse' ? 'data: one\n\n' : 'one;');
        gate.push(() => res.end('two'));
        return;
      case '/big': {
        const body = Buffer.alloc(num('bytes'), 'b');
        res.writeHead(200, { 'content-length': body.length, 'x-sha256': sha256(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      case '/hang':
        return;
      case '/empty':
        res.writeHead(204).end();
        return;
      case '/notmod':
        res.writeHead(304, { etag: '"x"', 'content-length': '12' }).end();
        return;
      default:
        res.end('app');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    gatedWritten: () => gatedWritten,
    openGate() {
      const waiting = gate;
      gate = [];
      waiting.forEach((open) => open());
    },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** An app whose answer has no length: delimited by closing the connection. */
async function startCloseDelimitedApp(bytes: number): Promise<{ target: string; close(): Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n'), Buffer.alloc(bytes, 'c')])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { target: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let proc: RouterProcess;
let app: App;
let version = 0;

async function routes(buffering: Record<string, unknown>, target = app.target): Promise<void> {
  version += 1;
  await createRouterClient(proc.socketPath).putRoutes(routeSet(version, [{ target, buffering }]));
}

/** The router's open spill files (unlinked, so only its descriptors show them). */
function spillFiles(router = proc, stateDir = dir.path): number {
  const fds = `/proc/${router.child.pid}/fd`;
  let n = 0;
  for (const fd of readdirSync(fds)) {
    try {
      if (readlinkSync(join(fds, fd)).startsWith(join(stateDir, 'router', 'buffers'))) n += 1;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

/** Bytes in the router's spill files (unlinked, but their descriptors still stat). */
function spillBytes(router: RouterProcess, stateDir: string): number {
  const fds = `/proc/${router.child.pid}/fd`;
  let n = 0;
  for (const fd of readdirSync(fds)) {
    try {
      if (readlinkSync(join(fds, fd)).startsWith(join(stateDir, 'router', 'buffers'))) n += statSync(join(fds, fd)).size;
    } catch {
      // Closed meanwhile.
    }
  }
  return n;
}

/** The router's request log so far (one JSON line per request on its stdout). */
function logLines(): Array<Record<string, unknown>> {
  return proc.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A chunked upload the test writes piece by piece; `answer` settles with the router's answer. */
function upload(path: string): { req: http.ClientRequest; answer: Promise<{ status: number; body: string }> } {
  const req = http.request({ host: '127.0.0.1', port: proc.port, path, method: 'POST', headers: { host: 'demo.test' }, agent: false });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  return { req, answer };
}

before(async () => {
  dir = await tempDir();
  app = await startApp();
  proc = await startRouterProcess(dir.path);
});
after(async () => {
  proc.child.kill('SIGTERM');
  await proc.exited;
  await app.close();
  await dir.remove();
});

test('a trickled upload reaches the app only once complete, with a Content-Length; past memory it spills to disk, and the file goes', async () => {
  await routes({ requests: true, memory: 1024 });
  const first = Buffer.alloc(4096, 'a');
  const rest = Buffer.alloc(100_000, 'b');
  const { req, answer } = upload('/upload');
  req.write(first);
  await waitFor('the body spilled to disk', () => spillFiles() === 1);
  assert.equal(app.seen.get('/upload'), undefined, 'the app is not asked while the body is incomplete');
  req.end(rest);
  const { status, body } = await answer;
  assert.equal(status, 200);
  const got = JSON.parse(body) as Record<string, unknown>;
  assert.deepEqual(got, { bytes: 104_096, sha256: sha256(Buffer.concat([first, rest])), length: '104096', coding: null });
  await waitFor('no spill file left', () => spillFiles() === 0);
  assert.deepEqual(readdirSync(join(dir.path, 'router', 'buffers')), []);
});

test('a body held in memory arrives whole; a body over max_request_body gets 413 and the app never sees it', async () => {
  await routes({ requests: true, max_request_body: 50_000 });
  const small = Buffer.from('x'.repeat(3000));
  const ok = await send(proc.port, 'demo.test', '/upload', { method: 'POST', body: small, headers: { 'content-type': 'text/plain' } });
  assert.equal((JSON.parse(ok.body) as { sha256: string }).sha256, sha256(small));
  const before = app.seen.get('/upload') ?? 0;
  const { req, answer } = upload('/upload');
  req.end(Buffer.alloc(60_000, 'o'));
  assert.equal((await answer).status, 413);
  assert.equal(app.seen.get('/upload') ?? 0, before, 'the app never saw the refused body');
  await waitFor('the 413 in the request log', () => logLines().some((l) => l['path'] === '/upload' && l['status'] === 413));
});

test('a client gone in the middle of its upload leaves no spill file, and the app is never asked', async () => {
  await routes({ requests: true, memory: 1024 });
  const before = app.seen.get('/upload') ?? 0;
  const { req, answer } = upload('/upload');
  answer.catch(() => undefined);
  req.write(Buffer.alloc(8192, 'q'));
  await waitFor('the body spilled to disk', () => spillFiles() === 1);
  req.destroy();
  await waitFor('the spill file closed', () => spillFiles() === 0);
  assert.equal(app.seen.get('/upload') ?? 0, before);
});

test('a buffered answer reaches the client only once the app finished it, intact even when spilled to disk', async () => {
  await routes({ responses: true, memory: 1024 });
  let head = false;
  const answer = send(proc.port, 'demo.test', '/gated?bytes=200000&first=4096', {}).then((a) => ((head = true), a));
  await waitFor('the first part is held on disk', () => app.gatedWritten() === 4096 && spillFiles() === 1);
  assert.equal(head, false, 'nothing reached the client before the app finished');
  app.openGate();
  const { status, body, headers } = await answer;
  assert.equal(status, 200);
  assert.equal(headers['content-length'], '200000');
  assert.equal(body, 'g'.repeat(200_000));
  await waitFor('no spill file left', () => spillFiles() === 0);
  const line = await waitFor('the request log line', () => logLines().find((l) => l['path'] === '/gated' && l['status'] === 200));
  assert.equal(line['completed'], true);
  assert.ok((line['bytes'] as number) > 200_000, 'the bytes sent, head and body');
});

test('a client gone while its answer is held leaves no spill file', async () => {
  await routes({ responses: true, memory: 1024 });
  const req = http.get({ host: '127.0.0.1', port: proc.port, path: '/gated?bytes=50000&first=8192', headers: { host: 'demo.test' }, agent: false });
  req.on('error', () => undefined);
  await waitFor('the answer is held on disk', () => spillFiles() === 1);
  req.destroy();
  await waitFor('the spill file closed', () => spillFiles() === 0);
  app.openGate();
});

test('server-sent events and chunked answers are not held: the first part arrives before the app ends', async () => {
  await routes({ requests: true, responses: true });
  for (const path of ['/sse', '/chunked']) {
    let first = '';
    const answer = send(proc.port, 'demo.test', path, { onFirstChunk: (c) => (first = c) });
    await waitFor(`${path}: the first part arrived`, () => first !== '');
    app.openGate();
    const { body } = await answer;
    assert.equal(body, path === '/sse' ? 'data: one\n\ntwo' : 'one;two');
  }
});

test('HEAD, 204 and 304 pass through a buffering route; a length over max_response_body gets 502', async () => {
  await routes({ requests: true, responses: true, max_response_body: 10_000 });
  const head = await send(proc.port, 'demo.test', '/big?bytes=5000', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '5000');
  assert.equal(head.body, '');
  assert.equal((await send(proc.port, 'demo.test', '/empty')).status, 204);
  assert.equal((await send(proc.port, 'demo.test', '/notmod')).status, 304);
  const big = await send(proc.port, 'demo.test', '/big?bytes=5000');
  assert.equal(big.body.length, 5000);
  assert.equal((await send(proc.port, 'demo.test', '/big?bytes=20000')).status, 502);
  // A bodiless POST is forwarded as is.
  assert.equal((await send(proc.port, 'demo.test', '/', { method: 'POST' })).body, 'app');
});

test('an answer delimited by the connection close gets a length, and 502 once past max_response_body', async () => {
  const small = await startCloseDelimitedApp(3000);
  const big = await startCloseDelimitedApp(30_000);
  try {
    await routes({ responses: true, max_response_body: 10_000 }, small.target);
    const ok = await send(proc.port, 'demo.test', '/');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['content-length'], '3000');
    assert.equal(ok.body, 'c'.repeat(3000));
    await routes({ responses: true, max_response_body: 10_000 }, big.target);
    assert.equal((await send(proc.port, 'demo.test', '/')).status, 502);
    assert.equal(spillFiles(), 0);
  } finally {
    await Promise.all([small.close(), big.close()]);
  }
});

test('timeouts still apply: the response timeout once a buffered body is sent, the idle timeout to a held answer gone silent', async () => {
  const quick = await tempDir();
  const router = await startRouterProcess(quick.path, undefined, { extraArgs: ['--idle-timeout', '1'] });
  try {
    await createRouterClient(router.socketPath).putRoutes(routeSet(1, [{ target: app.target, response_timeout: 1, buffering: { requests: true, responses: true, memory: 1024 } }]));
    const timedOut = await send(router.port, 'demo.test', '/hang', { method: 'POST', body: Buffer.alloc(5000, 't') });
    assert.equal(timedOut.status, 504);
    const silent = send(router.port, 'demo.test', '/gated?bytes=10000&first=4096');
    await assert.rejects(silent, /socket hang up|ECONNRESET/, 'the client connection closed, no head sent');
    await waitFor('no spill file left', () => spillFiles(router, quick.path) === 0);
  } finally {
    app.openGate();
    router.child.kill('SIGTERM');
    await router.exited;
    await quick.remove();
  }
});

test('the spill files of all requests share --buffer-disk-max: past it a body gets 503 (Retry-After) and the app never sees it; the room comes back', async () => {
  const small = await tempDir();
  const router = await startRouterProcess(small.path, undefined, { extraArgs: ['--buffer-disk-max', '1'] });
  try {
    await createRouterClient(router.socketPath).putRoutes(routeSet(1, [{ target: app.target, buffering: { requests: true, responses: true, memory: 1024 } }]));
    const post = (body: Buffer) => send(router.port, 'demo.test', '/upload', { method: 'POST', body });
    // Holds most of the 1 MiB on disk while the test keeps its upload open.
    const held = http.request({ host: '127.0.0.1', port: router.port, path: '/upload', method: 'POST', headers: { host: 'demo.test' }, agent: false });
    const heldAnswer = new Promise<number>((resolve, reject) => {
      held.on('response', (res) => (res.resume(), res.on('end', () => resolve(res.statusCode ?? 0))));
      held.on('error', reject);
    });
    held.write(Buffer.alloc(900 * 1024, 'h'));
    await waitFor('the held upload on disk', () => spillBytes(router, small.path) === 900 * 1024);
    const before = app.seen.get('/upload') ?? 0;
    const refused = await post(Buffer.alloc(300 * 1024, 'r'));
    assert.equal(refused.status, 503);
    assert.equal(refused.headers['retry-after'], '10');
    assert.match(refused.body, /cannot be held right now/);
    assert.equal(app.seen.get('/upload') ?? 0, before, 'the app never saw the refused body');
    assert.match(router.stderr(), /refused: the buffer files hold the router's disk budget/);
    // A body that fits in memory still passes, and an answer too big to spill gets 503.
    assert.equal((await post(Buffer.alloc(500, 's'))).status, 200);
    assert.equal((await send(router.port, 'demo.test', '/big?bytes=300000')).status, 503);

    held.end();
    assert.equal(await heldAnswer, 200);
    await waitFor('the held file closed', () => spillFiles(router, small.path) === 0);
    const again = await post(Buffer.alloc(300 * 1024, 'a'));
    assert.equal(again.status, 200, 'the room is back once the held body went');
    assert.equal((JSON.parse(again.body) as { bytes: number }).bytes, 300 * 1024);
  } finally {
    router.child.kill('SIGTERM');
    await router.exited;
    await small.remove();
  }
});
