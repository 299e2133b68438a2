// GitHub package events for GHCR: HMAC-SHA256 over the raw body, the delivery
// GUID as the delivery id, container versions with a tag as pushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { SECRET, accepted, edited, fixture, hmacHex, refused, request } from '../../../support/webhooks.js';

const GUID = '72d3162e-cc78-11e3-81ab-4c9367dc0958';

function signed(body: Buffer, event = 'package', extra: Record<string, string | undefined> = {}) {
  return request('github', body, {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': GUID,
    'x-hub-signature-256': `sha256=${hmacHex(SECRET, body)}`,
    ...extra,
  });
}

test('a published container version with a tag is a push on ghcr.io, owner/name lower-cased, the GUID as delivery id', () => {
  const d = accepted(readDelivery(signed(fixture('github', 'package-published.json'))));
  assert.deepEqual(d, { source: 'github', deliveryId: GUID, events: [{ registry: 'ghcr.io', repository: 'octo-org/hello-world', tag: 'v1.4.2' }], ignored: [] });
});

test('the legacy registry_package event and the updated action count too', () => {
  const d = accepted(readDelivery(signed(fixture('github', 'registry_package-updated.json'), 'registry_package')));
  assert.deepEqual(d.events, [{ registry: 'ghcr.io', repository: 'octo-org/hello-world', tag: 'v1.4.2' }]);
});

test('a signature in upper-case hex is the same signature', () => {
  const body = fixture('github', 'package-published.json');
  accepted(readDelivery(signed(body, 'package', { 'x-hub-signature-256': `sha256=${hmacHex(SECRET, body).toUpperCase()}` })));
});

test('ping, other events, other package types, untagged versions and other actions are ignored', () => {
  assert.deepEqual(accepted(readDelivery(signed(fixture('github', 'ping.json'), 'ping'))).ignored, [{ reason: 'ping' }]);
  assert.deepEqual(accepted(readDelivery(signed(fixture('github', 'ping.json'), 'push'))).ignored, [{ reason: 'event push, not package' }]);
  assert.deepEqual(accepted(readDelivery(signed(fixture('github', 'package-published-npm.json')))).ignored, [{ reason: 'npm package, not a container' }]);
  assert.deepEqual(accepted(readDelivery(signed(fixture('github', 'package-published-untagged.json')))).ignored, [
    { reason: 'version without a tag (a platform manifest or a push by digest)', repository: 'octo-org/hello-world' },
  ]);
  const deleted = edited('github', 'package-published.json', (b) => (b.action = 'deleted'));
  assert.deepEqual(accepted(readDelivery(signed(deleted))).ignored, [{ reason: 'action deleted', repository: 'octo-org/hello-world', tag: 'v1.4.2' }]);
});

test('a bad signature is refused: wrong secret, one changed byte, wrong length, missing, not sha256=', () => {
  const body = fixture('github', 'package-published.json');
  const good = hmacHex(SECRET, body);
  refused(readDelivery(signed(body, 'package', { 'x-hub-signature-256': `sha256=${hmacHex('another-secret', body)}` })), 401, /X-Hub-Signature-256 does not match the body/);
  const flipped = `${good.slice(0, -1)}${good.endsWith('0') ? '1' : '0'}`;
  refused(readDelivery(signed(body, 'package', { 'x-hub-signature-256': `sha256=${flipped}` })), 401, /does not match the body/);
  refused(readDelivery(signed(body, 'package', { 'x-hub-signature-256': `sha256=${good.slice(0, 20)}` })), 401, /does not match the body/);
  refused(readDelivery(signed(body, 'package', { 'x-hub-signature-256': good })), 401, /does not match the body/);
  refused(readDelivery(signed(body, 'package', { 'x-hub-signature-256': undefined })), 401, /X-Hub-Signature-256 is missing/);
  // The body changed after signing.
  const tampered = edited('github', 'package-published.json', (b) => (b.package.package_version.container_metadata.tag.name = 'evil'));
  refused(readDelivery({ ...signed(body), body: tampered }), 401, /does not match the body/);
});

test('missing headers, form encoding and missing fields are refused', () => {
  const body = fixture('github', 'package-published.json');
  refused(readDelivery(signed(body, 'package', { 'x-github-event': undefined })), 400, /X-GitHub-Event is missing/);
  refused(readDelivery(signed(body, 'package', { 'x-github-delivery': undefined })), 400, /X-GitHub-Delivery is missing/);
  refused(readDelivery(signed(body, 'package', { 'x-github-delivery': 'a b' })), 400, /X-GitHub-Delivery is not a delivery id/);
  refused(readDelivery(signed(body, 'package', { 'content-type': 'application/x-www-form-urlencoded' })), 415, /expected application\/json/);
  refused(readDelivery(signed(body, 'registry_package')), 400, /^registry_package must be an object/);
  refused(readDelivery(signed(edited('github', 'package-published.json', (b) => delete b.package.package_version))), 400, /^package\.package_version must be an object/);
  refused(readDelivery(signed(edited('github', 'package-published.json', (b) => (b.package.name = '../etc')))), 400, /is not a repository name/);
  refused(readDelivery(signed(Buffer.from('{"action":'))), 400, /not JSON/);
});
