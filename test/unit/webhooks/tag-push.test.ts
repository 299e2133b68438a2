// Which pushes name the manifest's repository, and the version a derived release gets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { derivedVersion, tracksRepository } from '../../../agent/webhooks/tag-push.js';

const D = `sha256:${'0123456789ab'.repeat(5)}abcd`;

describe('webhook tag pushes', () => {
  it('the Docker Hub host names are one registry; other hosts compare host:port exactly', () => {
    assert.equal(tracksRepository(`acme/app@${D}`, { registry: 'index.docker.io', repository: 'acme/app', tag: 'main' }), true);
    assert.equal(tracksRepository(`docker.io/library/nginx@${D}`, { registry: 'registry-1.docker.io', repository: 'nginx', tag: 'main' }), true);
    assert.equal(tracksRepository(`nginx@${D}`, { repository: 'library/nginx', tag: 'main' }), true);
    assert.equal(tracksRepository(`acme/app@${D}`, { registry: 'ghcr.io', repository: 'acme/app', tag: 'main' }), false);
    assert.equal(tracksRepository(`reg.test:5000/app@${D}`, { registry: 'reg.test:5000', repository: 'app', tag: 'main' }), true);
    assert.equal(tracksRepository(`reg.test:5000/app@${D}`, { registry: 'reg.test', repository: 'app', tag: 'main' }), false);
    assert.equal(tracksRepository(`reg.test/team/app@${D}`, { repository: 'team/app2', tag: 'main' }), false);
  });

  it('the version is <tag>-<12 hex>, within 128 characters, and webhook-<12 hex> for a tag no version may start with', () => {
    assert.equal(derivedVersion('main', D), 'main-0123456789ab');
    assert.equal(derivedVersion('t'.repeat(128), D), `${'t'.repeat(115)}-0123456789ab`);
    assert.equal(derivedVersion('_private', D), 'webhook-0123456789ab');
  });
});
