import assert from 'node:assert/strict';
import { test } from 'node:test';
import { covers, dnsNames, renewAt, retryAt, sniCandidates } from '../../../agent/core/certificates.js';

const DAY = 86_400_000;

test('renewal is due with a third of the lifetime left', () => {
  assert.equal(renewAt(0, 90 * DAY), 60 * DAY);
  assert.equal(renewAt(1000, 21_000), 14_334);
});

test('retries double from an hour to a day, but stay within a quarter of what is left', () => {
  const now = 0;
  const long = 90 * DAY;
  assert.deepEqual([1, 2, 3, 6, 12].map((n) => retryAt(n, now, long, 0.5) / 3_600_000), [1, 2, 4, 24, 24]);
  // A 20 s certificate with 8 s left: 2 s, never under 1 s.
  assert.equal(retryAt(1, now, 8_000, 0.5), 2_000);
  assert.equal(retryAt(5, now, 2_000, 0.5), 1_000);
  // Expired: hourly doubling.
  assert.equal(retryAt(2, 10_000, 5_000, 0.5), 10_000 + 7_200_000);
  // Jitter stays within ±10 %.
  assert.equal(retryAt(1, 0, long, 0), 3_240_000);
  assert.ok(retryAt(1, 0, long, 0.999999) <= 3_960_000);
});

test('a wildcard name covers exactly one more label; a wildcard host needs the wildcard name', () => {
  const names = ['a.test', '*.w.test'];
  assert.ok(covers(names, 'a.test'));
  assert.ok(covers(names, 'X.w.test'));
  assert.ok(!covers(names, 'w.test'));
  assert.ok(!covers(names, 'y.x.w.test'));
  assert.ok(covers(names, '*.w.test'));
  assert.ok(!covers(['x.w.test'], '*.w.test'));
});

test('SNI lookup names: the exact host, then its one-label wildcard', () => {
  assert.deepEqual(sniCandidates('App.Example.com.'), ['app.example.com', '*.example.com']);
  assert.deepEqual(sniCandidates('localhost'), ['localhost']);
  assert.deepEqual(dnsNames('DNS:a.test, IP Address:127.0.0.1, DNS:*.B.test'), ['a.test', '*.b.test']);
});
