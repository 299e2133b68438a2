// Who may route which host and path prefix: the one rule the CLI and the agent both apply.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findRouteClash, routePrefixes } from '../../../shared/routes.js';

test('the same host and prefix claimed by two owners is a clash naming both; trailing slashes do not separate prefixes', () => {
  assert.deepEqual(findRouteClash([{ owner: 'a', hosts: ['App.test'] }, { owner: 'b', hosts: ['app.test'] }]), { host: 'App.test', prefix: '/', owner: 'b', other: 'a' });
  assert.deepEqual(findRouteClash([{ owner: 'a', hosts: ['x.test'], prefixes: ['/api'] }, { owner: 'b', hosts: ['x.test'], prefixes: ['/v2', '/api/'] }]), {
    host: 'x.test', prefix: '/api/', owner: 'b', other: 'a',
  });
});

test('different prefixes, different hosts, wildcards beside exact hosts and one owner twice are no clash', () => {
  for (const claims of [
    [{ owner: 'a', hosts: ['x.test'] }, { owner: 'b', hosts: ['x.test'], prefixes: ['/api'] }],
    [{ owner: 'a', hosts: ['x.test'], prefixes: ['/api'] }, { owner: 'b', hosts: ['x.test'], prefixes: ['/api/v2'] }],
    [{ owner: 'a', hosts: ['x.test'] }, { owner: 'b', hosts: ['y.test'] }],
    [{ owner: 'a', hosts: ['*.x.test'] }, { owner: 'b', hosts: ['a.x.test'] }],
    [{ owner: 'a', hosts: ['x.test'], prefixes: ['/api', '/api/'] }],
  ]) {
    assert.equal(findRouteClash(claims), undefined, JSON.stringify(claims));
  }
});

test('routePrefixes: none is /, one string or a list', () => {
  assert.deepEqual(routePrefixes({}), ['/']);
  assert.deepEqual(routePrefixes({ path_prefix: '/a' }), ['/a']);
  assert.deepEqual(routePrefixes({ path_prefix: ['/a', '/b'] }), ['/a', '/b']);
});
