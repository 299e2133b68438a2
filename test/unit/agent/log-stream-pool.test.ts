// Docker log connections counted across every log request of the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimitError } from '../../../shared/errors.js';
import { createLogStreamPool } from '../../../agent/ops/log-stream-pool.js';
import type { ChunkStream, DockerPort, OutputChunk } from '../../../agent/docker.js';

const closed: string[] = [];
const docker = {
  async logs(id: string): Promise<ChunkStream | undefined> {
    if (id === 'gone') return undefined;
    if (id === 'broken') throw new Error('docker said no');
    const chunks: OutputChunk[] = [{ stream: 'stdout', data: Buffer.from(`${id}\n`) }];
    return { output: (async function* () { yield* chunks; })(), close: () => void closed.push(id) };
  },
} as unknown as DockerPort;

test('a stream holds its place until it is closed or read to its end; past the cap, 429 naming it', async () => {
  const pool = createLogStreamPool(2);
  const counted = pool.counted(docker);
  const a = (await counted.logs('a', { follow: true, tail: 1 }))!;
  const b = (await counted.logs('b', { follow: true, tail: 1 }))!;
  assert.throws(() => pool.ensureRoom(1), /too many container log streams open on this agent \(2\)/);
  await assert.rejects(counted.logs('c', { follow: true, tail: 1 }), (e: unknown) =>
    e instanceof RateLimitError && e.code === 'too_many_log_streams' && /too many container log streams open on this agent \(2\)/.test(e.message));
  a.close();
  a.close();
  pool.ensureRoom(1);
  assert.throws(() => pool.ensureRoom(2), /\(2\)/, 'closing twice gives the place back once');
  for await (const chunk of b.output) assert.equal(chunk.data.toString(), 'b\n');
  pool.ensureRoom(2); // a stream read to its end gives its place back
  b.close();
  pool.ensureRoom(2);
  assert.throws(() => pool.ensureRoom(3));
  assert.deepEqual(closed, ['a', 'a', 'b']);
});

test('a container that is gone or a Docker error takes no place', async () => {
  const pool = createLogStreamPool(1);
  const counted = pool.counted(docker);
  assert.equal(await counted.logs('gone', { follow: false, tail: 1 }), undefined);
  await assert.rejects(counted.logs('broken', { follow: false, tail: 1 }), /docker said no/);
  pool.ensureRoom(1);
});
