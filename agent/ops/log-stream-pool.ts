// Every log read holds one Docker connection per container it reads, and the
// agent's connection caps assume a client holds at most one descriptor on the
// far side. So Docker log connections are counted across all log requests
// and bounded: the descriptor reserve stays intact whatever the services look
// like (docs/internals.md "Connection limits").
import { RateLimitError } from '../../shared/errors.js';
import type { ChunkStream, DockerPort } from '../docker.js';

/** Docker log connections open at once, across every log request of the agent. */
export const MAX_DOCKER_LOG_STREAMS = 64;

export interface LogStreamPool {
  /** Throws the pool's 429 unless `count` places are free now: a request that could not open all its streams is refused before it answers. */
  ensureRoom(count: number): void;
  /** `docker` whose logs() takes a place for as long as the stream is open, or throws 429 when none is free. */
  counted(docker: DockerPort): DockerPort;
}

export function createLogStreamPool(max = MAX_DOCKER_LOG_STREAMS): LogStreamPool {
  let open = 0;
  const full = () =>
    new RateLimitError(`too many container log streams open on this agent (${max}); close some and try again`, 'too_many_log_streams');
  return {
    ensureRoom(count) {
      if (open + count > max) throw full();
    },
    counted: (docker) => ({
      ...docker,
      async logs(id, options) {
        if (open >= max) throw full();
        open++;
        let released = false;
        const release = () => {
          if (!released) {
            released = true;
            open--;
          }
        };
        let stream: ChunkStream | undefined;
        try {
          stream = await docker.logs(id, options);
        } finally {
          if (!stream) release();
        }
        if (!stream) return undefined;
        const inner = stream;
        return {
          output: (async function* () {
            try {
              yield* inner.output;
            } finally {
              release();
            }
          })(),
          close() {
            inner.close();
            release();
          },
        };
      },
    }),
  };
}
