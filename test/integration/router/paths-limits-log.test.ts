// Path prefixes (with and without stripping), body limits and the request log,
// against the real router process (`berth-agent router`, bundled).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startRouterProcess, tempDir, waitFor, type RouterProcess } from '../../support/router-fixtures.js';

interface EchoApp {
  target: string;
  /** Request bodies received, bytes per request that reached the app. */
  uploads: number[];
  close(): Promise<void>;
}

/**
 * Answers `NAME URL` (the path it was sent); `/big?bytes=N[&chunked=1]` sends N
 * bytes; `/upload` counts the body it reads. Sets a cookie and a custom header.
 */
async function startEchoApp(name: string): Promise<EchoApp> {
  const uploads: number[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname.endsWith('/upload')) {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        uploads.push(bytes);
        res.end(`${name} got ${bytes}`);
      });
      req.on('close', () => {
        if (!req.complete) uploads.push(-bytes);
      });
      return;
    }
    if (url.pathname === '/slow') {
      const timer = setTimeout(() => res.end(`${name} slow`), Number(url.searchParams.get('ms')));
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if (url.pathname === '/headers') {
      res.end(JSON.stringify(req.headers));
      return;
    }
    if (url.pathname.endsWith('/big')) {
      const bytes = Number(url.searchParams.get('bytes'));
      const chunked = url.searchParams.get('chunked') === '1';
      res.writeHead(200, chunked ? { 'content-type': 'text/plain' } : { 'content-type': 'text/plain', 'content-length': bytes });
      const chunk = Buffer.alloc(1024, 'z');
      let left = bytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    res.writeHead(200, { 'set-cookie': 'session=SECRETCOOKIE', 'x-app': `${name}"},{"forged":"1`, 'content-type': 'text/plain' });
    res.end(`${name} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    uploads,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

let dir: Awaited<ReturnType<typeof tempDir>>;
let proc: RouterProcess;
let root: EchoApp;
let api: EchoApp;
let admin: EchoApp;
let version = 0;

async function routes(list: Parameters<typeof routeSet>[1]): Promise<void> {
  version += 1;
  await createRouterClient(proc.socketPath).putRoutes(routeSet(version, list));
}

before(async () => {
  dir = await tempDir();
  [root, api, admin] = await Promise.all([startEchoApp('root'), startEchoApp('api'), startEchoApp('admin')]);
  proc = await startRouterProcess(dir.path);
});
after(async () => {
  proc.child.kill('SIGTERM');
  await proc.exited;
  await Promise.all([root, api, admin].map((a) => a.close()));
  await dir.remove();
});

const get = (host: string, path: string, opts: Parameters<typeof send>[3] = {}) => send(proc.port, host, path, opts);

test('several services on one host by path: the longest prefix wins; stripped or not as each route says', async () => {
  await routes([
    { service: 'root', hosts: ['shop.test'], target: root.target },
    { service: 'api', hosts: ['shop.test'], path_prefix: ['/api', '/oauth/'], strip_path_prefix: true, target: api.target },
    { service: 'admin', hosts: ['shop.test', '*.shop.test'], path_prefix: '/api/admin', target: admin.target },
  ]);
  assert.equal((await get('shop.test', '/')).body, 'root /');
  assert.equal((await get('shop.test', '/apiary')).body, 'root /apiary', 'a prefix matches whole segments');
  assert.equal((await get('shop.test', '/api/users?x=1')).body, 'api /users?x=1');
  assert.equal((await get('shop.test', '/api')).body, 'api /');
  assert.equal((await get('shop.test', '/api?q=/api')).body, 'api /?q=/api');
  assert.equal((await get('shop.test', '/oauth/callback?code=7')).body, 'api /callback?code=7');
  assert.equal((await get('shop.test', '/oauth')).body, 'api /');
  assert.equal((await get('shop.test', '/api/admin/users')).body, 'admin /api/admin/users', 'not stripped without strip_path_prefix');
  assert.equal((await get('eu.shop.test', '/api/admin')).body, 'admin /api/admin');
  assert.equal((await get('eu.shop.test', '/api/x')).status, 503, 'the wildcard host has only /api/admin');
});

test('a stripped prefix cannot be climbed out of: dot segments and encoded slashes never reach another route', async () => {
  for (const path of ['/api/../api/admin/x', '/api/%2e%2e/api/admin', '/api%2f..%2fapi/admin', '/api/.%2E/api/admin', '/api/..\\api/admin']) {
    const answer = await get('shop.test', path);
    assert.equal(answer.status, 400, path);
    assert.doesNotMatch(answer.body, /^(admin|api|root) /, path);
  }
  assert.equal((await get('shop.test', '/api//evil.test/x')).body, 'api /evil.test/x', 'no leading // (a host to URL parsers) after stripping');
  // A double-encoded dot is an ordinary character: it stays under /api.
  assert.equal((await get('shop.test', '/api/%252e%252e/admin')).body, 'api /%252e%252e/admin');
});

test('maintenance: the health path exemption is the path the app sees after stripping', async () => {
  await routes([
    { service: 'root', hosts: ['shop.test'], target: root.target },
    { service: 'api', hosts: ['shop.test'], path_prefix: '/api', strip_path_prefix: true, health_path: '/up', maintenance: {}, target: api.target },
  ]);
  assert.equal((await get('shop.test', '/api/up')).body, 'api /up');
  assert.equal((await get('shop.test', '/api/other')).status, 503);
  assert.equal((await get('shop.test', '/up')).body, 'root /up', 'the root service is not in maintenance');
});

test('response_timeout and forward_headers still apply under a prefix', async () => {
  await routes([{ service: 'api', hosts: ['shop.test'], path_prefix: '/api', strip_path_prefix: true, forward_headers: true, response_timeout: 1, target: api.target }]);
  const headers = JSON.parse((await get('shop.test', '/api/headers', { headers: { 'x-forwarded-proto': 'https' } })).body) as Record<string, string>;
  assert.equal(headers['x-forwarded-proto'], 'https', 'trusted with forward_headers');
  assert.equal(headers['x-forwarded-host'], 'shop.test');
  assert.equal((await get('shop.test', '/api/slow?ms=10')).body, 'api slow');
  assert.equal((await get('shop.test', '/api/slow?ms=5000')).status, 504);
});

test('a request body over max_request_body is 413: by Content-Length without reading it, chunked as soon as it passes', async () => {
  await routes([{ service: 'api', hosts: ['shop.test'], buffering: { max_request_body: 1000 }, target: api.target }]);
  const before = api.uploads.length;
  const fits = await get('shop.test', '/upload', { method: 'POST', body: 'x'.repeat(1000) });
  assert.equal(fits.body, 'api got 1000');
  const declared = await get('shop.test', '/upload', { method: 'POST', body: 'x'.repeat(1001) });
  assert.equal(declared.status, 413);
  assert.equal(declared.headers.connection, 'close');
  assert.match(declared.body, /larger than this service accepts \(1000 bytes\)/);

  const streamed = await new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: proc.port, path: '/upload', method: 'POST', agent: false, headers: { host: 'shop.test', 'transfer-encoding': 'chunked' } },
      (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
      },
    );
    req.on('error', reject);
    const chunk = Buffer.alloc(600, 'y');
    const write = (left: number): void => {
      if (left === 0 || req.destroyed) return void req.end();
      req.write(chunk, () => write(left - 1));
    };
    write(20);
  });
  assert.equal(streamed.status, 413);
  assert.equal(streamed.connection, 'close');
  // The app saw the first complete request only. The streamed one was aborted
  // with at most the limit sent, or never reached it at all when the limit was
  // passed before the router had a connection to the app: a later upload of
  // one byte, once recorded, shows every earlier one has been.
  assert.equal((await get('shop.test', '/upload', { method: 'POST', body: 'z' })).body, 'api got 1');
  await waitFor('the one-byte upload to be recorded', () => api.uploads.includes(1));
  assert.equal(api.uploads[before], 1000);
  const aborted = api.uploads.slice(before + 1, api.uploads.lastIndexOf(1));
  assert.ok(aborted.length <= 1 && aborted.every((n) => n <= 0 && -n <= 1000), `aborted uploads: ${aborted}`);
  // Unlimited (0) lets anything through.
  await routes([{ service: 'api', hosts: ['shop.test'], buffering: { max_request_body: 0 }, target: api.target }]);
  assert.equal((await get('shop.test', '/upload', { method: 'POST', body: 'x'.repeat(5000) })).body, 'api got 5000');
});

test('a response over max_response_body: 502 when declared, a cut connection when streamed', async () => {
  await routes([{ service: 'api', hosts: ['shop.test'], buffering: { max_response_body: 4096 }, target: api.target }]);
  assert.equal((await get('shop.test', '/big?bytes=4096')).body.length, 4096);
  assert.equal((await get('shop.test', '/big?bytes=4096&chunked=1')).body.length, 4096);
  const declared = await get('shop.test', '/big?bytes=10000');
  assert.equal(declared.status, 502);
  assert.match(declared.body, /larger than this route allows/);
  assert.equal((await get('shop.test', '/big?bytes=10000', { method: 'HEAD' })).status, 200, 'a HEAD answer declares a length it does not send');
  await assert.rejects(get('shop.test', '/big?bytes=100000&chunked=1'), /aborted|socket hang up|ECONNRESET/);
  assert.equal((await get('shop.test', '/')).body, 'api /', 'the router keeps serving');
});

test('the request log: one JSON line per request, chosen headers, credentials redacted, quotes escaped', async () => {
  await routes([
    {
      service: 'api', hosts: ['shop.test'], path_prefix: '/api', strip_path_prefix: true, target: api.target,
      logging: { request_headers: ['Authorization', 'Cookie', 'X-Trace', 'Proxy-Authorization'], response_headers: ['Set-Cookie', 'X-App', 'Content-Type'] },
    },
  ]);
  const longTrace = 't'.repeat(5000);
  await get('shop.test', '/api/logged?q=1', {
    headers: { authorization: 'Bearer SECRETTOKEN', cookie: 'a=SECRETCOOKIE', 'proxy-authorization': 'Basic SECRETPROXY', 'x-trace': `${longTrace}`, 'x-request-id': 'req-123', 'user-agent': 'probe"\t"x' },
  });
  await get('nobody.test', '/x"y');
  await waitFor('both request lines', () => proc.stdout().includes('"host":"nobody.test"'));
  const lines = proc.stdout().trim().split('\n');
  for (const line of lines) JSON.parse(line);
  const entry = JSON.parse(lines.find((l) => l.includes('req-123'))!) as Record<string, unknown>;
  assert.equal(entry['service'], 'api');
  assert.equal(entry['method'], 'GET');
  assert.equal(entry['path'], '/api/logged', 'the path the client sent');
  assert.equal(entry['query'], 'q=1');
  assert.equal(entry['status'], 200);
  assert.equal(entry['client_addr'], '127.0.0.1');
  assert.equal(typeof entry['duration_ms'], 'number');
  assert.ok((entry['bytes'] as number) > 0);
  assert.equal(entry['req_authorization'], '[redacted]');
  assert.equal(entry['req_cookie'], '[redacted]');
  assert.equal(entry['req_proxy_authorization'], '[redacted]');
  assert.equal(entry['resp_set_cookie'], '[redacted]');
  assert.equal(entry['resp_x_app'], 'api"},{"forged":"1', 'escaped in the line, intact once parsed');
  assert.equal(entry['user_agent'], 'probe"\t"x');
  assert.ok((entry['req_x_trace'] as string).length < 600, 'a long header value is cut');
  assert.doesNotMatch(proc.stdout(), /SECRET/);
  assert.doesNotMatch(proc.stdout(), /\t/, 'no raw control character reaches the log');
  assert.ok(!lines.some((l) => l.startsWith('{"forged"')));
  const unrouted = JSON.parse(lines.find((l) => l.includes('nobody.test'))!) as Record<string, unknown>;
  assert.equal(unrouted['status'], 503);
  assert.equal(unrouted['path'], '/x"y');
  assert.equal(unrouted['service'], '');
  assert.equal(typeof unrouted['request_id'], 'string');
  assert.notEqual(unrouted['request_id'], '');
});
