// The app's error pages (Kamal's error_pages_path) in the real router: sent by
// hash over the control socket, then the body of the router's own answers on
// routes that name them (502, maintenance 503 with the message, pause 504,
// 413, WebSocket 502), with the status and headers unchanged; routes without
// pages keep the router's own; bad pages and tables naming unknown pages
// change nothing; pages survive a restart and go once no route names them.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { errorPageHash } from '../../../shared/error-pages.js';
import { freePort, routeSet, send, startInProcessRouter, tempDir, type InProcessRouter, type Upstream, startUpstream } from '../../support/router-fixtures.js';
import { rawExchange, upgradeHead } from '../../support/stream-fixtures.js';

const PAGE_502 = '<!doctype html><title>Oops</title><h1>Our app is restarting</h1>{{/* Kamal comment */}}';
const PAGE_503 = '<main>{{ if .Message }}<p>{{ .Message }}</p>{{ else }}<p>Scheduled maintenance</p>{{ end }}</main>';
const PAGE_504 = '<h1>Still waiting, sorry</h1>';
const PAGE_413 = '<h1>That file is too big</h1>';
const HTML = { accept: 'text/html' };

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: InProcessRouter;
let app: Upstream;
let deadTarget: string;
let version = 0;
const client = () => createRouterClient(router.socketPath);
const port = () => router.http.port;
const pages = (map: Record<string, string>) => Object.fromEntries(Object.entries(map).map(([s, html]) => [s, errorPageHash(html)]));
const putPages = async (...list: string[]) => {
  for (const html of list) await client().putErrorPage(errorPageHash(html), html);
};
const routes = (list: Parameters<typeof routeSet>[1]) => client().putRoutes(routeSet(++version, list));

before(async () => {
  dir = await tempDir();
  app = await startUpstream('app');
  deadTarget = `127.0.0.1:${await freePort()}`;
  router = await startInProcessRouter(dir.path);
});
after(async () => {
  await router.stop();
  await app.close();
  await dir.remove();
});

test("a down target's 502 is the app's page, with the router's status and headers; a route without pages keeps the router's own", async () => {
  await putPages(PAGE_502);
  await routes([
    { target: deadTarget, error_pages: pages({ '502': PAGE_502 }) },
    { service: 'plain', hosts: ['plain.test'], target: deadTarget },
  ]);
  const answer = await send(port(), 'demo.test', '/');
  assert.equal(answer.status, 502);
  assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(answer.headers['cache-control'], 'no-store');
  assert.equal(answer.body, '<!doctype html><title>Oops</title><h1>Our app is restarting</h1>');
  assert.equal(answer.headers['content-length'], String(Buffer.byteLength(answer.body)));
  const head = await send(port(), 'demo.test', '/', { method: 'HEAD' });
  assert.equal(head.status, 502);
  assert.equal(head.body, '');
  const plain = await send(port(), 'plain.test', '/');
  assert.equal(plain.status, 502);
  assert.match(plain.body, /502 Bad Gateway[\s\S]*berth router/);
  // No route, no app: the router's own.
  assert.match((await send(port(), 'nobody.test', '/')).body, /There is no service for host nobody\.test/);
  // A WebSocket upgrade refused the same way gets the same page.
  const raw = await rawExchange(port(), upgradeHead('/', 'demo.test'));
  assert.match(raw, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  assert.ok(raw.endsWith('<h1>Our app is restarting</h1>'), raw);
});

test("maintenance answers 503 with the app's page, the message escaped in place of {{ .Message }}; the default message takes the page's else branch", async () => {
  await putPages(PAGE_503);
  await routes([{ target: app.target, health_path: '/up', maintenance: { message: 'Back at <5> & soon' }, error_pages: pages({ '503': PAGE_503 }) }]);
  for (const headers of [HTML, {}]) {
    const answer = await send(port(), 'demo.test', '/', { headers });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '60');
    assert.equal(answer.headers['cache-control'], 'no-store');
    // The app's page is HTML whatever the client accepts, as under kamal-proxy.
    assert.equal(answer.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(answer.body, '<main><p>Back at &#60;5&#62; &#38; soon</p></main>');
  }
  assert.equal((await send(port(), 'demo.test', '/up')).body, 'app', 'the health path still reaches the app');
  await routes([{ target: app.target, maintenance: { message: 'This service is down for maintenance.' }, error_pages: pages({ '503': PAGE_503 }) }]);
  assert.equal((await send(port(), 'demo.test', '/')).body, '<main><p>Scheduled maintenance</p></main>');
  // The 502 page went with the table that stopped naming it: sent again.
  await putPages(PAGE_502);
  await routes([{ target: app.target, maintenance: { message: 'Back at 5' }, error_pages: pages({ '502': PAGE_502 }) }]);
  const builtIn = await send(port(), 'demo.test', '/');
  assert.equal(builtIn.body, 'Back at 5\n', 'no 503 page: the router answers as before');
});

test("a paused request's 504 and a body over the limit's 413 are the app's pages", async () => {
  await putPages(PAGE_504, PAGE_413);
  await routes([{ target: app.target, pause: { timeout: 0.2 }, error_pages: pages({ '504': PAGE_504, '413': PAGE_413 }) }]);
  const paused = await send(port(), 'demo.test', '/');
  assert.equal(paused.status, 504);
  assert.equal(paused.body, PAGE_504);
  await routes([{ target: app.target, buffering: { max_request_body: 10 }, error_pages: pages({ '504': PAGE_504, '413': PAGE_413 }) }]);
  const big = await send(port(), 'demo.test', '/', { method: 'POST', body: 'x'.repeat(100) });
  assert.equal(big.status, 413);
  assert.equal(big.body, PAGE_413);
  assert.equal((await send(port(), 'demo.test', '/')).body, 'app', 'the app still answers what it is asked');
});

test('refused with nothing changed: a table naming a page never sent, a page not matching its hash, bad names, unsupported templates, oversized bodies', async () => {
  const before = (await client().getRoutes()).version;
  await assert.rejects(routes([{ target: app.target, error_pages: { '502': errorPageHash('never sent') } }]), /error page 502 .* was not sent to the router/);
  assert.equal((await client().getRoutes()).version, before);
  await assert.rejects(client().putErrorPage(errorPageHash('a'), 'b'), /not the page of that SHA-256/);
  await assert.rejects(client().putErrorPage('..%2F..%2Fetc', 'b'), /64 hex digits/);
  await assert.rejects(client().putErrorPage(errorPageHash('{{ .Status }}'), '{{ .Status }}'), /only \{\{ \.Message \}\}/);
  const huge = 'x'.repeat(64 * 1024 + 1);
  await assert.rejects(client().putErrorPage(errorPageHash(huge), huge), /more than 65536/);
  const tooBig = 'x'.repeat(1024 * 1024 + 10);
  await assert.rejects(client().putErrorPage(errorPageHash(tooBig), tooBig), /larger than 1048576 bytes/);
  assert.ok(!(await client().listErrorPages()).includes(errorPageHash('b')));
});

test('pages survive a restart with the snapshot, and are dropped, files included, once no route names them', async () => {
  await putPages(PAGE_502);
  await routes([{ target: deadTarget, error_pages: pages({ '502': PAGE_502 }) }]);
  await router.stop();
  router = await startInProcessRouter(dir.path);
  assert.equal((await send(port(), 'demo.test', '/')).body, '<!doctype html><title>Oops</title><h1>Our app is restarting</h1>');
  assert.deepEqual(await client().listErrorPages(), [errorPageHash(PAGE_502)]);
  version = (await client().getRoutes()).version;
  await routes([{ target: deadTarget }]);
  assert.deepEqual(await client().listErrorPages(), []);
  assert.deepEqual(await readdir(join(dir.path, 'router', 'error-pages')), []);
  assert.match((await send(port(), 'demo.test', '/')).body, /502 Bad Gateway[\s\S]*berth router/);
});
