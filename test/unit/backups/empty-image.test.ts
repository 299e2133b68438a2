// The empty image is imported once per engine connection; when an image
// removal deleted it since, creating a container of it imports it again and
// tries once more (a restore, like a backup, must not keep failing until the
// agent restarts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmptyImageContainer, EMPTY_IMAGE } from '../../../agent/backups/empty-image.js';
import type { ContainerSpec } from '../../../agent/docker.js';

function engine() {
  const e = {
    images: new Set<string>(),
    imports: 0,
    async imagePresent(ref: string) {
      return e.images.has(ref);
    },
    async importImage(_tar: NodeJS.ReadableStream, ref: string) {
      e.imports += 1;
      e.images.add(ref);
    },
    async createContainer(spec: ContainerSpec) {
      if (!e.images.has(spec.image)) throw new Error(`(HTTP code 404) no such container - No such image: ${spec.image}`);
      return `id-${spec.name}`;
    },
  };
  return e;
}

const spec = (name: string) => ({ name, image: EMPTY_IMAGE, cmd: ['/x'], env: {}, labels: {}, network: 'none', restartPolicy: 'no', host: {}, config: {} }) as ContainerSpec;

test('an empty image deleted after it was imported is imported again, every time', async () => {
  const e = engine();
  assert.equal(await createEmptyImageContainer(e, spec('a')), 'id-a');
  assert.equal(await createEmptyImageContainer(e, spec('b')), 'id-b');
  assert.equal(e.imports, 1, 'imported once while it stays');
  e.images.clear();
  assert.equal(await createEmptyImageContainer(e, spec('c')), 'id-c');
  e.images.clear();
  assert.equal(await createEmptyImageContainer(e, spec('d')), 'id-d');
  assert.equal(e.imports, 3);
});

test('other create failures are not retried', async () => {
  const e = engine();
  e.createContainer = async () => {
    throw new Error('conflict: name in use');
  };
  await assert.rejects(createEmptyImageContainer(e, spec('x')), /name in use/);
  assert.equal(e.imports, 1);
});
