// Docker Hub: nothing is signed, the path token is the whole authentication.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDelivery } from '../../../../agent/core/webhooks/index.js';
import { accepted, edited, fixture, refused, request } from '../../../support/webhooks.js';

const json = { 'content-type': 'application/json' };

test('a push names repo_name and push_data.tag on docker.io', () => {
  const d = accepted(readDelivery(request('dockerhub', fixture('dockerhub', 'push.json'), json, { secret: undefined })));
  assert.deepEqual(d.events, [{ registry: 'docker.io', repository: 'svendowideit/testhook', tag: 'latest' }]);
  assert.match(d.deliveryId ?? '', /^body-[0-9a-f]{32}$/);
});

test('a wrong path token is refused; nothing in the body can stand in for it', () => {
  refused(readDelivery(request('dockerhub', fixture('dockerhub', 'push.json'), json, { pathTokenOk: false })), 401, /token in the path/);
});

test('a push without a tag is ignored; a claimed digest never reaches the result', () => {
  assert.deepEqual(accepted(readDelivery(request('dockerhub', edited('dockerhub', 'push.json', (b) => delete b.push_data.tag), json))).ignored, [{ reason: 'push without a tag', repository: 'svendowideit/testhook' }]);
  const claimed = edited('dockerhub', 'push.json', (b) => (b.push_data.images = ['sha256:27d47432a69bca5f2700e4dff7de0388ed65f9d3fb1ec645e2bc24c223dc1cc3']));
  assert.equal(accepted(readDelivery(request('dockerhub', claimed, json))).events[0]?.tag, 'latest');
});

test('missing fields and a wrong content type are refused', () => {
  refused(readDelivery(request('dockerhub', edited('dockerhub', 'push.json', (b) => delete b.push_data), json)), 400, /^push_data must be an object/);
  refused(readDelivery(request('dockerhub', edited('dockerhub', 'push.json', (b) => delete b.repository.repo_name), json)), 400, /^repository\.repo_name must be a string/);
  refused(readDelivery(request('dockerhub', fixture('dockerhub', 'push.json'), { 'content-type': 'text/plain' })), 415, /Content-Type text\/plain; expected application\/json/);
});
