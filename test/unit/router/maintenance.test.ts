// Route sets with maintenance and health paths: what the router accepts, and
// the pure parts of the maintenance answer (health path match, HTML or text).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptsHtml, renderMaintenancePage } from '../../../agent/router/pages.js';
import { isHealthPath, parseRouteSet } from '../../../agent/router/table.js';
import type { Route } from '../../../agent/router/types.js';
import { maintenanceMessageProblem } from '../../../shared/maintenance.js';

const route = (over: Partial<Route> & Record<string, unknown>): Route => ({ service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', ...over });
const parse = (over: Partial<Route> & Record<string, unknown>) => parseRouteSet({ version: 1, routes: [route(over)] });

test('a route may carry maintenance (with or without a message) and a health path', () => {
  assert.deepEqual(parse({ maintenance: { message: 'Back at 5 — café ☕' }, health_path: '/up' }).routes[0], route({ maintenance: { message: 'Back at 5 — café ☕' }, health_path: '/up' }));
  assert.deepEqual(parse({ maintenance: {} }).routes[0]?.maintenance, {});
  assert.equal(parse({ health_path: '/healthz?full=1' }).routes[0]?.health_path, '/healthz?full=1');
});

test('invalid maintenance or health paths are refused, naming the field', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maintenance: { message: 'x'.repeat(1001) } }, /routes\.0\.maintenance\.message: must be at most 1000 characters/],
    [{ maintenance: { message: 'line one\nline two' } }, /routes\.0\.maintenance\.message: must be printable/],
    [{ maintenance: { message: 'bell\u0007' } }, /printable/],
    [{ maintenance: { message: 'evil\u202ereversed' } }, /printable/],
    [{ maintenance: { message: 'lone \ud800 surrogate' } }, /printable/],
    [{ maintenance: { message: '   ' } }, /must not be empty/],
    [{ maintenance: { message: 5 } }, /routes\.0\.maintenance\.message/],
    [{ maintenance: { message: 'ok', extra: true } }, /routes\.0\.maintenance/],
    [{ maintenance: 'on' }, /routes\.0\.maintenance/],
    [{ maintenance: true }, /routes\.0\.maintenance/],
    [{ health_path: 'up' }, /routes\.0\.health_path: must start with \//],
    [{ health_path: '/with space' }, /routes\.0\.health_path/],
    [{ health_path: `/${'a'.repeat(1024)}` }, /routes\.0\.health_path/],
    [{ health_path: 7 }, /routes\.0\.health_path/],
  ];
  for (const [over, message] of cases) {
    assert.throws(() => parse(over), (e: Error) => message.test(e.message) && (e as { status?: number }).status === 400, JSON.stringify(over).slice(0, 80));
  }
});

test('maintenanceMessageProblem accepts ordinary text up to 1000 characters', () => {
  assert.equal(maintenanceMessageProblem('Back at 5'), undefined);
  assert.equal(maintenanceMessageProblem('x'.repeat(1000)), undefined);
  assert.equal(maintenanceMessageProblem('Wartung bis 17:00 Uhr — 🚧 <b>&amp;</b>'), undefined);
  assert.match(maintenanceMessageProblem('') ?? '', /empty/);
  assert.match(maintenanceMessageProblem('tab\there') ?? '', /printable/);
});

test('the health path matches the request path exactly, the query ignored on both sides', () => {
  const r = route({ health_path: '/up' });
  assert.ok(isHealthPath(r, '/up'));
  assert.ok(isHealthPath(r, '/up?check=1'));
  for (const path of ['/', '/up/', '/upx', '/up/../admin', '//up', '/UP', '/%75p']) assert.ok(!isHealthPath(r, path), path);
  assert.ok(isHealthPath(route({ health_path: '/healthz?full=1' }), '/healthz'));
  assert.ok(!isHealthPath(route({}), '/up'), 'no health path: nothing is exempt');
});

test('HTML only for clients that ask for it by name', () => {
  assert.ok(acceptsHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'));
  assert.ok(acceptsHtml('application/xhtml+xml'));
  assert.ok(acceptsHtml('TEXT/HTML; charset=utf-8'));
  assert.ok(!acceptsHtml('*/*'));
  assert.ok(!acceptsHtml(undefined));
  assert.ok(!acceptsHtml('application/json'));
  assert.ok(!acceptsHtml('text/html;q=0, text/plain'));
});

test('the maintenance page escapes the message', () => {
  const page = renderMaintenancePage('<script>alert("x")</script> & \'q\'');
  assert.ok(page.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;q&#39;'));
  assert.ok(!page.includes('<script>'));
});
