// What every source shares: size is checked before anything, the path token
// before the source's own authentication, and secrets compare in constant time
// whatever their lengths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_BODY_BYTES, WEBHOOK_SOURCES, readDelivery } from '../../../../agent/core/webhooks/index.js';
import { constantTimeEqual } from '../../../../agent/core/webhooks/verify.js';
import { SECRET, refused, request } from '../../../support/webhooks.js';

test('a body over 64 KiB is refused with 413 for every source, before the token or the body is looked at', () => {
  const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
  for (const source of WEBHOOK_SOURCES) {
    refused(readDelivery(request(source, big, {}, { pathTokenOk: false })), 413, /65537 bytes; webhooks are capped at 65536/);
  }
});

test('a wrong path token is refused with 401 for every source, signed or not', () => {
  for (const source of WEBHOOK_SOURCES) {
    refused(readDelivery(request(source, Buffer.from('{}'), { 'content-type': 'application/json' }, { pathTokenOk: false })), 401, /token in the path/);
  }
});

test('a source that needs a secret refuses every delivery while the policy has none', () => {
  for (const source of ['distribution', 'github', 'harbor', 'generic'] as const) {
    refused(readDelivery(request(source, Buffer.from('{}'), {}, { secret: undefined })), 401, new RegExp(`the ${source} source has no secret`));
    refused(readDelivery(request(source, Buffer.from('{}'), {}, { secret: '' })), 401, /has no secret/);
  }
});

test('constant-time comparison: equal, same length different, different lengths', () => {
  assert.equal(constantTimeEqual(SECRET, SECRET), true);
  assert.equal(constantTimeEqual(SECRET, `${SECRET.slice(0, -1)}X`), false);
  assert.equal(constantTimeEqual(SECRET, SECRET.slice(0, 8)), false);
  assert.equal(constantTimeEqual('', ''), true);
});

test('JSON nested deeper than 32 is refused before parsing; invalid UTF-8 and non-JSON are refused', () => {
  const deep = Buffer.from(`${'['.repeat(33)}${']'.repeat(33)}`);
  const headers = { 'content-type': 'application/json' };
  refused(readDelivery(request('dockerhub', deep, headers)), 400, /nested deeper than 32/);
  // Brackets inside strings do not count.
  const inString = Buffer.from(JSON.stringify({ push_data: { tag: 'v1' }, repository: { repo_name: 'a/b', description: '['.repeat(100) } }));
  assert.equal(readDelivery(request('dockerhub', inString, headers)).ok, true);
  refused(readDelivery(request('dockerhub', Buffer.from([0x7b, 0xff, 0x7d]), headers)), 400, /not UTF-8/);
  refused(readDelivery(request('dockerhub', Buffer.from('{"push_data":'), headers)), 400, /not JSON/);
  refused(readDelivery(request('dockerhub', Buffer.from('[1]'), headers)), 400, /the body must be an object/);
});
