// Harbor: the Authorization header is the secret; PUSH_ARTIFACT in the
// Default format and harbor.artifact.pushed in the CloudEvents format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { SECRET, accepted, edited, fixture, refused, request } from '../../../support/webhooks.js';

const headers = (authorization: string | undefined = SECRET, contentType = 'application/json') => ({ authorization, 'content-type': contentType });

test('Default format: each tagged resource is a push on the resource_url host', () => {
  const d = accepted(readDelivery(request('harbor', fixture('harbor', 'push-default.json'), headers())));
  assert.deepEqual(d.events, [{ registry: 'hub.harbor.com', repository: 'test-webhook/debian', tag: 'latest' }]);
  assert.match(d.deliveryId ?? '', /^body-[0-9a-f]{32}$/);
});

test('CloudEvents format: the event id is the delivery id', () => {
  const d = accepted(readDelivery(request('harbor', fixture('harbor', 'push-cloudevents.json'), headers(`Bearer ${SECRET}`, 'application/cloudevents+json'))));
  assert.deepEqual(d, {
    source: 'harbor',
    deliveryId: '66e18103-09c1-41f6-982f-37df223f3eeb',
    events: [{ registry: 'harbor.example.com', repository: 'team/application', tag: 'v1.4.2' }],
    ignored: [],
  });
});

test('pulls, other CloudEvents types and untagged artifacts are ignored', () => {
  assert.deepEqual(accepted(readDelivery(request('harbor', fixture('harbor', 'pull-default.json'), headers()))).ignored, [
    { reason: 'event PULL_ARTIFACT, not an artifact push', repository: 'test-webhook/debian' },
  ]);
  const deleted = edited('harbor', 'push-cloudevents.json', (b) => (b.type = 'harbor.artifact.deleted'));
  assert.deepEqual(accepted(readDelivery(request('harbor', deleted, headers()))).ignored, [
    { reason: 'event harbor.artifact.deleted, not an artifact push', repository: 'team/application' },
  ]);
  const untagged = edited('harbor', 'push-default.json', (b) => (b.event_data.resources[0].tag = ''));
  assert.deepEqual(accepted(readDelivery(request('harbor', untagged, headers()))).ignored, [{ reason: 'artifact pushed without a tag', repository: 'test-webhook/debian' }]);
});

test('a wrong Authorization is refused, same length or not', () => {
  const body = fixture('harbor', 'push-default.json');
  refused(readDelivery(request('harbor', body, headers(`${SECRET.slice(0, -1)}!`))), 401, /Authorization header does not match/);
  refused(readDelivery(request('harbor', body, headers('x'))), 401, /Authorization header does not match/);
  refused(readDelivery(request('harbor', body, { 'content-type': 'application/json' })), 401, /Authorization header is missing/);
});

test('malformed payloads are refused naming the field', () => {
  const bad = (name: string, edit: (b: any) => void) => readDelivery(request('harbor', edited('harbor', name, edit), headers()));
  refused(bad('push-cloudevents.json', (b) => (b.specversion = '0.3')), 400, /specversion must be "1.0"/);
  refused(bad('push-cloudevents.json', (b) => delete b.id), 400, /^id must be a string/);
  refused(bad('push-cloudevents.json', (b) => delete b.data), 400, /^data must be an object/);
  refused(bad('push-default.json', (b) => delete b.event_data.repository.repo_full_name), 400, /event_data\.repository\.repo_full_name must be a string/);
  refused(bad('push-default.json', (b) => (b.event_data.resources = [])), 400, /event_data\.resources is empty/);
  refused(bad('push-default.json', (b) => delete b.type), 400, /^type must be a string/);
  refused(readDelivery(request('harbor', fixture('harbor', 'push-default.json'), headers(SECRET, 'text/xml'))), 415, /expected application\/json or application\/cloudevents\+json/);
});
