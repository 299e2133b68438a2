// CNCF distribution notifications: the Authorization header from the
// registry's endpoint config is the secret; only manifest pushes with a tag
// are pushes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { SECRET, accepted, edited, fixture, refused, request } from '../../../support/webhooks.js';

const ENVELOPE = 'application/vnd.docker.distribution.events.v2+json';
const headers = (authorization: string | undefined = `Bearer ${SECRET}`, contentType = ENVELOPE) => ({ authorization, 'content-type': contentType });

test('a manifest push by tag is a push of that repository and tag, on the registry host of the request', () => {
  const d = accepted(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), headers())));
  assert.deepEqual(d.events, [{ registry: 'registry.example.com:5000', repository: 'acme/web', tag: 'main', eventId: '5e3a4f7c-2d1b-4b8e-9f3a-7c1d2e3f4a5b' }]);
  assert.deepEqual(d.ignored, []);
  assert.match(d.deliveryId ?? '', /^body-[0-9a-f]{32}$/);
  // The same envelope resent has the same delivery id.
  assert.equal(accepted(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), headers()))).deliveryId, d.deliveryId);
});

test('the secret alone (without Bearer) is accepted too; the v1 envelope type as well', () => {
  accepted(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), headers(SECRET))));
  accepted(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), headers(undefined, 'application/vnd.docker.distribution.events.v1+json; charset=utf-8'))));
});

test('without request.host the push has no registry', () => {
  const body = edited('distribution', 'push-tag.json', (b) => delete b.events[0].request);
  assert.deepEqual(accepted(readDelivery(request('distribution', body, headers()))).events, [{ repository: 'acme/web', tag: 'main', eventId: '5e3a4f7c-2d1b-4b8e-9f3a-7c1d2e3f4a5b' }]);
});

test('a manifest pushed by digest and its blobs are ignored with reasons', () => {
  const d = accepted(readDelivery(request('distribution', fixture('distribution', 'push-by-digest-and-blobs.json'), headers())));
  assert.deepEqual(d.events, []);
  assert.deepEqual(d.ignored, [
    { reason: 'manifest pushed by digest (no tag)', repository: 'library/test' },
    { reason: 'blob push (not a manifest)', repository: 'library/test' },
    { reason: 'blob push (not a manifest)', repository: 'library/test' },
  ]);
});

test('pulls and deletes are ignored', () => {
  assert.deepEqual(accepted(readDelivery(request('distribution', fixture('distribution', 'pull.json'), headers()))).ignored, [{ reason: 'pull', repository: 'hello-world', tag: 'latest' }]);
  assert.deepEqual(accepted(readDelivery(request('distribution', fixture('distribution', 'delete.json'), headers()))).ignored, [{ reason: 'delete', repository: 'library/test' }]);
});

test('a wrong Authorization is refused whatever its length, and before the body is parsed', () => {
  const body = fixture('distribution', 'push-tag.json');
  refused(readDelivery(request('distribution', body, headers(`Bearer ${SECRET.slice(0, -1)}x`))), 401, /Authorization header does not match/);
  refused(readDelivery(request('distribution', body, headers('Bearer short'))), 401, /Authorization header does not match/);
  refused(readDelivery(request('distribution', body, headers(''))), 401, /Authorization header does not match/);
  refused(readDelivery(request('distribution', body, { 'content-type': ENVELOPE })), 401, /Authorization header is missing/);
  refused(readDelivery(request('distribution', Buffer.from('not json'), headers('Bearer nope'))), 401, /does not match/);
});

test('the envelope media type is required', () => {
  refused(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), headers(undefined, 'application/json'))), 415, /Content-Type application\/json; expected application\/vnd.docker.distribution.events.v2\+json/);
  refused(readDelivery(request('distribution', fixture('distribution', 'push-tag.json'), { authorization: `Bearer ${SECRET}` })), 415, /no Content-Type/);
});

test('malformed envelopes and events are refused naming the field', () => {
  const bad = (edit: (b: any) => void) => readDelivery(request('distribution', edited('distribution', 'push-tag.json', edit), headers()));
  refused(bad((b) => delete b.events), 400, /^events must be an array/);
  refused(bad((b) => (b.events = [])), 400, /events is empty/);
  refused(bad((b) => delete b.events[0].target), 400, /events\[0\]\.target must be an object/);
  refused(bad((b) => delete b.events[0].target.repository), 400, /events\[0\]\.target\.repository must be a string/);
  refused(bad((b) => (b.events[0].target.repository = 'Acme/Web')), 400, /events\[0\]\.target\.repository is not a repository name/);
  refused(bad((b) => (b.events[0].target.tag = '-bad')), 400, /events\[0\]\.target\.tag is not a tag/);
  refused(bad((b) => (b.events[0].target.tag = 'a'.repeat(129))), 400, /is not a tag/);
  refused(bad((b) => (b.events[0].request.host = 'evil host/x')), 400, /request\.host is not a registry host/);
  const small = { action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'a/b', tag: 't' } };
  refused(bad((b) => (b.events = Array.from({ length: 101 }, () => small))), 400, /events has 101 entries; at most 100 per delivery/);
  assert.equal(accepted(readDelivery(request('distribution', edited('distribution', 'push-tag.json', (b) => (b.events = Array.from({ length: 100 }, () => small))), headers()))).events.length, 100);
});
