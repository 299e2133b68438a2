import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTable, normalizeHost, parseRouteSet } from '../../../agent/router/table.js';
import { splitTarget } from '../../../shared/routes.js';
import type { Route } from '../../../agent/router/types.js';

const route = (over: Partial<Route>): Route => ({ service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', ...over });

function table(routes: Route[]) {
  return buildTable(parseRouteSet({ version: 1, routes }));
}

test('host lookup ignores the port and case of the Host header', () => {
  const t = table([route({ hosts: ['Demo.Test'], target: '10.0.0.1:80' })]);
  for (const header of ['demo.test', 'DEMO.test:8080', 'demo.test.', ' demo.test ']) {
    const host = normalizeHost(header);
    assert.ok(host, header);
    assert.equal(t.lookup(host, '/')?.target, '10.0.0.1:80', header);
  }
  assert.equal(t.lookup('other.test', '/'), undefined);
  assert.equal(normalizeHost(undefined), undefined);
  assert.equal(normalizeHost(':80'), undefined);
  assert.equal(normalizeHost('[::1]:8080'), '::1');
});

test('wildcard hosts match subdomains, not the apex; exact hosts win; the most specific wildcard wins', () => {
  const t = table([
    route({ service: 'wild', hosts: ['*.example.com'], target: '10.0.0.1:80' }),
    route({ service: 'deeper', hosts: ['*.eu.example.com'], target: '10.0.0.3:80' }),
    route({ service: 'exact', hosts: ['app.example.com'], target: '10.0.0.2:80' }),
  ]);
  assert.equal(t.lookup('a.example.com', '/')?.service, 'wild');
  assert.equal(t.lookup('a.b.example.com', '/')?.service, 'wild');
  assert.equal(t.lookup('app.example.com', '/')?.service, 'exact');
  assert.equal(t.lookup('x.eu.example.com', '/')?.service, 'deeper');
  assert.equal(t.lookup('example.com', '/'), undefined, 'a wildcard does not cover the apex');
  assert.equal(t.lookup('aexample.com', '/'), undefined);
});

test('a catch-all `*` serves hosts nothing else serves', () => {
  const t = table([route({ service: 'named' }), route({ service: 'fallback', hosts: ['*'], target: '10.0.0.9:80' })]);
  assert.equal(t.lookup('demo.test', '/')?.service, 'named');
  assert.equal(t.lookup('anything.else', '/x')?.service, 'fallback');
});

test('the longest path prefix wins, at segment boundaries, ignoring the query', () => {
  const t = table([
    route({ service: 'root', target: '10.0.0.1:80' }),
    route({ service: 'api', path_prefix: '/api', target: '10.0.0.2:80' }),
    route({ service: 'v2', path_prefix: '/api/v2/', target: '10.0.0.3:80' }),
  ]);
  assert.equal(t.lookup('demo.test', '/')?.service, 'root');
  assert.equal(t.lookup('demo.test', '/api')?.service, 'api');
  assert.equal(t.lookup('demo.test', '/api?x=1')?.service, 'api');
  assert.equal(t.lookup('demo.test', '/api/users')?.service, 'api');
  assert.equal(t.lookup('demo.test', '/apix')?.service, 'root', 'not a segment boundary');
  assert.equal(t.lookup('demo.test', '/api/v2')?.service, 'v2');
  assert.equal(t.lookup('demo.test', '/api/v2/x')?.service, 'v2');
});

test('a host whose prefixes do not match falls through to wider hosts', () => {
  const t = table([
    route({ service: 'api', path_prefix: '/api', target: '10.0.0.2:80' }),
    route({ service: 'wild', hosts: ['*.test'], target: '10.0.0.1:80' }),
  ]);
  assert.equal(t.lookup('demo.test', '/api/x')?.service, 'api');
  assert.equal(t.lookup('demo.test', '/home')?.service, 'wild');
});

test('a route with several prefixes serves each; match names the prefix that matched', () => {
  const t = table([
    route({ service: 'root', target: '10.0.0.1:80' }),
    route({ service: 'api', path_prefix: ['/api', '/oauth/'], strip_path_prefix: true, target: '10.0.0.2:80' }),
    route({ service: 'admin', hosts: ['*.test'], path_prefix: '/api/admin', target: '10.0.0.3:80' }),
  ]);
  assert.equal(t.match('demo.test', '/api/x')?.prefix, '/api');
  assert.equal(t.match('demo.test', '/oauth')?.prefix, '/oauth/');
  assert.equal(t.match('demo.test', '/oauth/cb?code=1')?.route.service, 'api');
  assert.equal(t.match('demo.test', '/')?.route.service, 'root');
  assert.equal(t.match('demo.test', '/api/admin')?.route.service, 'api', 'an exact host wins over a wildcard with a longer prefix');
  assert.equal(t.match('x.test', '/api/admin/y')?.route.service, 'admin');
  assert.equal(t.match('x.test', '/api'), undefined);
  assert.deepEqual(t.targets().sort(), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
});

test('two services on one host and prefix are refused, also within a list of prefixes', () => {
  assert.throws(
    () => table([route({ service: 'a', path_prefix: ['/x', '/api'] }), route({ service: 'b', path_prefix: '/api', target: '10.0.0.2:80' })]),
    /host demo\.test with path prefix \/api is already routed/,
  );
  // One service may list a prefix twice, and another may take `/`.
  table([route({ service: 'a', path_prefix: ['/api', '/api'] }), route({ service: 'b', target: '10.0.0.2:80' })]);
});

test('targets lists each routed target once', () => {
  const t = table([route({ hosts: ['a.test'] }), route({ hosts: ['b.test'] }), route({ hosts: ['c.test'], target: '10.0.0.2:81' })]);
  assert.deepEqual(t.targets().sort(), ['10.0.0.1:80', '10.0.0.2:81']);
});

test('a valid route set parses, hosts lower-cased; destination and role keys are accepted', () => {
  const set = parseRouteSet({
    version: 3,
    routes: [
      route({ hosts: ['App.Example.COM', '*.example.com', '*'], path_prefix: '/api', response_timeout: 2.5 }),
      route({ service: 'demo.api@staging', hosts: ['api.test'], target: '[fd00::1]:8080' }),
    ],
  });
  assert.equal(set.version, 3);
  assert.deepEqual(set.routes[0]?.hosts, ['app.example.com', '*.example.com', '*']);
  assert.deepEqual(parseRouteSet({ version: 0, routes: [] }), { version: 0, routes: [] });
});

test('invalid route sets are refused with the field path named', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /route set/],
    [[], /route set/],
    [{ routes: [] }, /version/],
    [{ version: -1, routes: [] }, /version/],
    [{ version: 1.5, routes: [] }, /version/],
    [{ version: '2', routes: [] }, /version/],
    [{ version: 1, routes: [], extra: true }, /extra|unrecognized/i],
    [{ version: 1, routes: [{ ...route({}), weight: 3 }] }, /routes\.0.*weight|unrecognized/i],
    [{ version: 1, routes: [route({ hosts: [] })] }, /routes\.0\.hosts/],
    [{ version: 1, routes: [route({ hosts: ['bad host'] })] }, /routes\.0\.hosts\.0/],
    [{ version: 1, routes: [route({ hosts: ['a.*.com'] })] }, /hosts\.0/],
    [{ version: 1, routes: [route({ hosts: ['-a.com'] })] }, /hosts\.0/],
    [{ version: 1, routes: [route({ target: 'localhost:80' })] }, /routes\.0\.target/],
    [{ version: 1, routes: [route({ target: '10.0.0.1' })] }, /target/],
    [{ version: 1, routes: [route({ target: '10.0.0.1:0' })] }, /target/],
    [{ version: 1, routes: [route({ target: '10.0.0.1:70000' })] }, /target/],
    [{ version: 1, routes: [route({ target: '300.0.0.1:80' })] }, /target/],
    [{ version: 1, routes: [route({ service: 'Bad Name' })] }, /service/],
    [{ version: 1, routes: [route({ path_prefix: 'api' })] }, /path_prefix/],
    [{ version: 1, routes: [route({ path_prefix: '/a b' })] }, /path_prefix/],
    [{ version: 1, routes: [route({ path_prefix: '/a?b' })] }, /path_prefix/],
    [{ version: 1, routes: [route({ path_prefix: [] })] }, /path_prefix/],
    [{ version: 1, routes: [route({ path_prefix: ['/a', 'b'] })] }, /path_prefix/],
    [{ version: 1, routes: [route({ strip_path_prefix: 'yes' as unknown as boolean })] }, /strip_path_prefix/],
    [{ version: 1, routes: [route({ response_timeout: 0 })] }, /response_timeout/],
    [{ version: 1, routes: [route({ response_timeout: 99999 })] }, /response_timeout/],
    [{ version: 1, routes: [route({}), route({ service: 'other', target: '10.0.0.2:80' })] }, /demo\.test.*already routed/],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseRouteSet(input),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'invalid_input', JSON.stringify(input));
        assert.match(e.message, message, JSON.stringify(input));
        return true;
      },
    );
  }
});

test('splitTarget accepts IPv4 and bracketed IPv6 with a port', () => {
  assert.deepEqual(splitTarget('10.1.2.3:8080'), { host: '10.1.2.3', port: 8080 });
  assert.deepEqual(splitTarget('[::1]:80'), { host: '::1', port: 80 });
  for (const bad of ['::1:80', '10.1.2.3', 'x:80', '10.1.2.3:', '[10.1.2.3]:80', '10.1.2.3:99999']) {
    assert.equal(splitTarget(bad), undefined, bad);
  }
});

test('a route may name several targets: each is routed once; an empty list, a repeated target or a bad one is refused', () => {
  const t = table([route({ target: ['10.0.0.1:80', '10.0.0.2:80'] }), route({ service: 'api', hosts: ['api.test'], target: '10.0.0.2:80' })]);
  assert.deepEqual(t.targets().sort(), ['10.0.0.1:80', '10.0.0.2:80']);
  assert.deepEqual(t.lookup('demo.test', '/')?.target, ['10.0.0.1:80', '10.0.0.2:80']);
  const refused = (target: unknown, message: RegExp): void =>
    assert.throws(() => parseRouteSet({ version: 1, routes: [{ service: 'demo', hosts: ['demo.test'], target }] }), message);
  refused([], /routes\.0\.target/);
  refused(['10.0.0.1:80', '10.0.0.1:80'], /must not name a target twice/);
  refused(['10.0.0.1:80', 'localhost:80'], /routes\.0\.target\.1: must be IP:PORT/);
  refused(Array.from({ length: 65 }, (_, i) => `10.0.0.${i + 1}:80`), /routes\.0\.target/);
});
