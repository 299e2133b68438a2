import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHALLENGE_TTL_MS, ChallengeAnswers, MAX_CHALLENGES } from '../../../agent/router/acme-challenges.js';
import { redirectLocation, wantsRedirect } from '../../../agent/router/redirect.js';

test('the redirect keeps path and query, drops the port, brackets an IPv6 host', () => {
  assert.equal(redirectLocation('app.test', '/a/b?c=1&d'), 'https://app.test/a/b?c=1&d');
  assert.equal(redirectLocation('::1', '/'), 'https://[::1]/');
});

test('only a TLS route with redirect on, over plain HTTP, with a certificate for the host', () => {
  const route = { service: 's', hosts: ['a.test'], target: '127.0.0.1:1', tls: { redirect: true } };
  const has = (h: string) => h === 'a.test';
  assert.ok(wantsRedirect(route, false, has, 'a.test'));
  assert.ok(!wantsRedirect(route, true, has, 'a.test'), 'already HTTPS');
  assert.ok(!wantsRedirect(route, false, has, 'b.test'), 'no certificate yet');
  assert.ok(!wantsRedirect({ ...route, tls: { redirect: false } }, false, has, 'a.test'));
  assert.ok(!wantsRedirect({ service: 's', hosts: ['a.test'], target: '127.0.0.1:1' }, false, has, 'a.test'));
});

test('a challenge answers for its host until deleted or expired; bad tokens and key authorizations are refused', () => {
  const c = new ChallengeAnswers();
  c.put('tok', { host: 'A.test', key_authorization: 'tok.thumb' }, 0);
  assert.equal(c.lookup('tok', 'a.test', 1), 'tok.thumb');
  assert.equal(c.lookup('tok', 'b.test', 1), undefined);
  assert.equal(c.lookup('tok', 'a.test', CHALLENGE_TTL_MS), undefined, 'expired');
  c.delete('tok');
  assert.equal(c.lookup('tok', 'a.test', 1), undefined);
  assert.throws(() => c.put('to/k', { host: 'a.test', key_authorization: 'to/k.x' }), { code: 'invalid_token' });
  assert.throws(() => c.put('tok', { host: 'a.test', key_authorization: 'other.thumb' }), /key_authorization/);
  assert.throws(() => c.put('tok', { host: 'a test', key_authorization: 'tok.thumb' }), /host/);
});

test('at most MAX_CHALLENGES pending; expired ones make room', () => {
  const c = new ChallengeAnswers();
  for (let i = 0; i < MAX_CHALLENGES; i++) c.put(`t${i}`, { host: 'a.test', key_authorization: `t${i}.x` }, 0);
  assert.throws(() => c.put('one-more', { host: 'a.test', key_authorization: 'one-more.x' }, 1), { code: 'too_many_challenges' });
  c.put('one-more', { host: 'a.test', key_authorization: 'one-more.x' }, CHALLENGE_TTL_MS);
});
