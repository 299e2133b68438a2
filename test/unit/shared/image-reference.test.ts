import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImageReference, pinnedImage } from '../../../shared/image-reference.js';
import { UserError } from '../../../shared/errors.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('image references', () => {
  it('expands Docker Hub short names like docker does', () => {
    assert.deepEqual(parseImageReference('nginx'), { name: 'nginx', registry: 'registry-1.docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
    assert.deepEqual(parseImageReference('acme/web:1.2'), { name: 'acme/web', registry: 'registry-1.docker.io', repository: 'acme/web', tag: '1.2', digest: undefined });
    assert.equal(parseImageReference('docker.io/library/redis:7').repository, 'library/redis');
    assert.equal(parseImageReference('docker.io/redis').repository, 'library/redis');
  });

  it('keeps registries with ports and hosts in the name', () => {
    const ref = parseImageReference('127.0.0.1:5000/berth-test/web:v1');
    assert.deepEqual(ref, { name: '127.0.0.1:5000/berth-test/web', registry: '127.0.0.1:5000', repository: 'berth-test/web', tag: 'v1', digest: undefined });
    assert.equal(pinnedImage(ref, DIGEST), `127.0.0.1:5000/berth-test/web@${DIGEST}`);
    assert.equal(parseImageReference('localhost/app').registry, 'localhost');
    assert.equal(parseImageReference('ghcr.io/acme/a/b').repository, 'acme/a/b');
    assert.equal(parseImageReference('localhost:5000/app').tag, 'latest');
  });

  it('takes digest references as they are', () => {
    const ref = parseImageReference(`ghcr.io/acme/web@${DIGEST}`);
    assert.equal(ref.digest, DIGEST);
    assert.equal(ref.tag, undefined);
    assert.equal(parseImageReference(`acme/web:v1@${DIGEST}`).digest, DIGEST);
  });

  it('refuses invalid references with a message naming them', () => {
    for (const bad of ['', 'Web', 'web app', 'web:', 'web:bad tag', 'web@sha256:123', 'web@md5:' + 'a'.repeat(32), 'a//b', '-web', 'web-', 'x'.repeat(300), 'host:99x/web', `web@sha256:${'AB'.repeat(32)}`]) {
      assert.throws(() => parseImageReference(bad), (e: unknown) => e instanceof UserError && /^invalid image reference/.test(e.message), bad);
    }
  });
});
