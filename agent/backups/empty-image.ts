// The image of the containers that archive and restore volumes: an empty root
// filesystem the agent imports itself (two zero blocks are a whole, empty tar
// archive). Those containers are created and never started: Docker reads and
// writes their mounts through its archive API, so no program of any image
// runs, nothing is pulled, and servers and tests use the same thing.
import { Readable } from 'node:stream';
import type { ContainerSpec, DockerPort } from '../docker.js';

export const EMPTY_IMAGE = 'berth-empty:1';
/** The command such a container names; it never runs (the image has no files). */
export const NEVER_RUN = ['/berth-never-runs'];

type ImageDocker = Pick<DockerPort, 'imagePresent' | 'importImage'>;
// Per engine connection: one process may hold several (tests run agents on different engines).
const ensured = new WeakMap<ImageDocker, Promise<void>>();

/** Imports EMPTY_IMAGE unless the engine has it (once per connection, again after a failure). */
export function ensureEmptyImage(docker: ImageDocker): Promise<void> {
  let pending = ensured.get(docker);
  if (!pending) {
    pending = (async () => {
      if (await docker.imagePresent(EMPTY_IMAGE)) return;
      await docker.importImage(Readable.from([Buffer.alloc(1024)]), EMPTY_IMAGE);
    })().catch((err: unknown) => {
      ensured.delete(docker);
      throw err;
    });
    ensured.set(docker, pending);
  }
  return pending;
}

/** Docker no longer has it (an image removal deleted it): the next ensureEmptyImage imports it again. */
export function forgetEmptyImage(docker: ImageDocker): void {
  ensured.delete(docker);
}

/**
 * Creates a container of EMPTY_IMAGE. An image removal may have deleted the
 * image since it was ensured: then it is imported again and the create tried
 * once more.
 */
export async function createEmptyImageContainer(docker: ImageDocker & Pick<DockerPort, 'createContainer'>, spec: ContainerSpec): Promise<string> {
  await ensureEmptyImage(docker);
  try {
    return await docker.createContainer(spec);
  } catch (err) {
    if (!/no such image/i.test(err instanceof Error ? err.message : String(err))) throw err;
    forgetEmptyImage(docker);
    await ensureEmptyImage(docker);
    return docker.createContainer(spec);
  }
}
