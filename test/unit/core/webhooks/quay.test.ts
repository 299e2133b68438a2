// Quay: path token only; updated_tags as a list (current) or a map (old).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { accepted, edited, fixture, refused, request } from '../../../support/webhooks.js';

const json = { 'content-type': 'application/json' };

test('a repository push names each updated tag on the docker_url host', () => {
  assert.deepEqual(accepted(readDelivery(request('quay', fixture('quay', 'push.json'), json))).events, [{ registry: 'quay.io', repository: 'dgangaia/test', tag: 'latest' }]);
  const two = edited('quay', 'push.json', (b) => (b.updated_tags = ['latest', 'v2.0.1']));
  assert.deepEqual(accepted(readDelivery(request('quay', two, json))).events.map((e) => e.tag), ['latest', 'v2.0.1']);
});

test('the older map form of updated_tags is read by its keys; the image ids are not kept', () => {
  assert.deepEqual(accepted(readDelivery(request('quay', fixture('quay', 'push-legacy-map.json'), json))).events, [{ registry: 'quay.io', repository: 'devtable/ubuntu', tag: 'latest' }]);
});

test('build notifications and tagless pushes are ignored', () => {
  assert.deepEqual(accepted(readDelivery(request('quay', fixture('quay', 'build-queued.json'), json))).ignored, [{ reason: 'build notification, not a push', repository: 'dgangaia/test' }]);
  assert.deepEqual(accepted(readDelivery(request('quay', edited('quay', 'push.json', (b) => (b.updated_tags = [])), json))).ignored, [{ reason: 'push without a tag', repository: 'dgangaia/test' }]);
});

test('a wrong token, missing fields and bad names are refused', () => {
  refused(readDelivery(request('quay', fixture('quay', 'push.json'), json, { pathTokenOk: false })), 401, /token in the path/);
  refused(readDelivery(request('quay', edited('quay', 'push.json', (b) => delete b.docker_url), json)), 400, /^docker_url must be a string/);
  refused(readDelivery(request('quay', edited('quay', 'push.json', (b) => delete b.repository), json)), 400, /^repository must be a string/);
  refused(readDelivery(request('quay', edited('quay', 'push.json', (b) => (b.updated_tags = ['ok', 'no way'])), json)), 400, /updated_tags\[1\] is not a tag/);
  refused(readDelivery(request('quay', edited('quay', 'push.json', (b) => (b.updated_tags = Array.from({ length: 101 }, (_, i) => `t${i}`))), json)), 400, /at most 100 per delivery/);
});
