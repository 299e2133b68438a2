// The generic source: HMAC over "<timestamp>.<body>", a 5-minute window,
// strict keys, and a delivery id that a replay cannot change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { NOW, SECRET, accepted, fixture, hmacHex, refused, request } from '../../../support/webhooks.js';

const nowSeconds = Math.floor(NOW / 1000);

function signed(body: Buffer, timestamp = String(nowSeconds), extra: Record<string, string | undefined> = {}) {
  return request('generic', body, {
    'content-type': 'application/json',
    'x-berth-timestamp': timestamp,
    'x-berth-signature': `sha256=${hmacHex(SECRET, `${timestamp}.`, body)}`,
    ...extra,
  });
}

test('a signed {repository, tag} is a push; a registry host in the repository is split off', () => {
  const d = accepted(readDelivery(signed(fixture('generic', 'push.json'))));
  assert.deepEqual(d.events, [{ registry: 'registry.example.com', repository: 'acme/web', tag: 'main' }]);
  assert.match(d.deliveryId ?? '', /^sig-[0-9a-f]{32}$/);
  const bare = accepted(readDelivery(signed(Buffer.from('{"repository":"acme/web","tag":"v1.2.3"}'))));
  assert.deepEqual(bare.events, [{ repository: 'acme/web', tag: 'v1.2.3' }]);
  assert.deepEqual(accepted(readDelivery(signed(Buffer.from('{"repository":"localhost:5000/web","tag":"x"}')))).events, [{ registry: 'localhost:5000', repository: 'web', tag: 'x' }]);
});

test('the same signed request twice has the same delivery id, so a replay is deduplicated; a new timestamp is a new id', () => {
  const body = fixture('generic', 'push.json');
  const a = accepted(readDelivery(signed(body)));
  assert.equal(accepted(readDelivery(signed(body))).deliveryId, a.deliveryId);
  assert.notEqual(accepted(readDelivery(signed(body, String(nowSeconds - 1)))).deliveryId, a.deliveryId);
});

test('the timestamp is signed: a captured signature under a fresh timestamp is refused', () => {
  const body = fixture('generic', 'push.json');
  const old = String(nowSeconds - 400);
  const captured = `sha256=${hmacHex(SECRET, `${old}.`, body)}`;
  refused(readDelivery(signed(body, String(nowSeconds), { 'x-berth-signature': captured })), 401, /X-Berth-Signature does not match the body/);
});

test('stale and future timestamps are refused at the edge of the 5-minute window', () => {
  const body = fixture('generic', 'push.json');
  accepted(readDelivery(signed(body, String(nowSeconds - 300))));
  accepted(readDelivery(signed(body, String(nowSeconds + 300))));
  refused(readDelivery(signed(body, String(nowSeconds - 301))), 401, /X-Berth-Timestamp is 301s old; deliveries are accepted for 300s/);
  refused(readDelivery(signed(body, String(nowSeconds + 301))), 401, /X-Berth-Timestamp is 301s in the future/);
  refused(readDelivery(signed(body, 'yesterday')), 401, /X-Berth-Timestamp must be unix seconds/);
  refused(readDelivery(signed(body, '', { 'x-berth-timestamp': undefined })), 401, /X-Berth-Timestamp must be unix seconds/);
});

test('a bad signature is refused: wrong secret, same length, shorter, missing', () => {
  const body = fixture('generic', 'push.json');
  const t = String(nowSeconds);
  const good = hmacHex(SECRET, `${t}.`, body);
  refused(readDelivery(signed(body, t, { 'x-berth-signature': `sha256=${hmacHex('nope', `${t}.`, body)}` })), 401, /does not match the body/);
  refused(readDelivery(signed(body, t, { 'x-berth-signature': `sha256=${'0'.repeat(good.length)}` })), 401, /does not match the body/);
  refused(readDelivery(signed(body, t, { 'x-berth-signature': `sha256=${good.slice(1)}` })), 401, /does not match the body/);
  refused(readDelivery(signed(body, t, { 'x-berth-signature': undefined })), 401, /X-Berth-Signature is missing/);
  // HMAC of the body alone (the timestamp left out) is not the signature.
  refused(readDelivery(signed(body, t, { 'x-berth-signature': `sha256=${hmacHex(SECRET, body)}` })), 401, /does not match the body/);
});

test('keys are strict; a digest is accepted and dropped', () => {
  refused(readDelivery(signed(Buffer.from('{"repository":"acme/web","tags":"main"}'))), 400, /unknown key tags; expected repository and tag/);
  refused(readDelivery(signed(Buffer.from('{"repository":"acme/web"}'))), 400, /^tag must be a string/);
  refused(readDelivery(signed(Buffer.from('{"repository":"Acme/Web","tag":"main"}'))), 400, /repository is not a repository name/);
  refused(readDelivery(signed(Buffer.from('{"repository":"acme/web","tag":"ma in"}'))), 400, /tag is not a tag/);
  const withDigest = Buffer.from(JSON.stringify({ repository: 'acme/web', tag: 'main', digest: `sha256:${'a'.repeat(64)}` }));
  assert.deepEqual(accepted(readDelivery(signed(withDigest))).events, [{ repository: 'acme/web', tag: 'main' }]);
  refused(readDelivery(signed(fixture('generic', 'push.json'), String(nowSeconds), { 'content-type': undefined })), 415, /no Content-Type; expected application\/json/);
});
