// Log streams with a fake Docker: a client gone while Docker answers, a
// container that restarts, a read too large to hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { ContainerInfo, DockerPort, OutputChunk } from '../../../agent/docker.js';
import { followLogs, MAX_READ_CHARS, readLogs, type LogQuery, type LogRecord, type LogsDeps } from '../../../agent/ops/logs.js';

const silent = { info() {}, warn() {}, error() {} };
const q: LogQuery = { service: 'demo', destination: '', follow: true, tail: 100 };

function container(id: string): ContainerInfo {
  return {
    id,
    name: `demo-web-${id}`,
    running: true,
    state: 'running',
    exitCode: null,
    ip: null,
    labels: { 'berth.service': 'demo', 'berth.role': 'web', 'berth.release': 'r1', 'berth.destination': '', 'berth.kind': 'app' },
    createdAt: Date.now(),
  };
}

const chunk = (line: string): OutputChunk => ({ stream: 'stdout', data: Buffer.from(`${line}\n`) });

function deps(docker: Partial<DockerPort>): LogsDeps {
  return { store: { bus: new EventEmitter() } as unknown as LogsDeps['store'], docker: docker as DockerPort, log: silent };
}

test('a client gone while Docker opens the stream: the stream is closed and following ends', { timeout: 10_000 }, async () => {
  let answer!: () => void;
  const answered = new Promise<void>((r) => (answer = r));
  let closed = false;
  const docker = {
    listContainers: async () => [],
    async logs() {
      await answered;
      // A quiet container: nothing arrives until the stream is closed.
      const out = new Readable({ objectMode: true, read() {} });
      return { output: out, close: () => ((closed = true), out.push(null)) };
    },
  };
  const client = new AbortController();
  const following = followLogs(deps(docker), q, [container('a')], async () => undefined, client.signal);
  client.abort();
  answer();
  await following;
  assert.equal(closed, true, 'the Docker stream is not left open');
});

test('a container that restarts: lines of the second before the re-attach are not sent twice', { timeout: 10_000 }, async () => {
  const calls: Array<{ since?: number }> = [];
  const docker = {
    listContainers: async () => [container('a')],
    async logs(_id: string, o: { since?: number }) {
      calls.push(o);
      const lines =
        calls.length === 1
          ? ['2024-05-01T10:00:00.100000000Z one', '2024-05-01T10:00:00.900000000Z two']
          : // Docker's `since` is whole seconds: the last second comes again.
            ['2024-05-01T10:00:00.100000000Z one', '2024-05-01T10:00:00.900000000Z two', '2024-05-01T10:00:01.200000000Z three'];
      return { output: Readable.from(lines.map(chunk)), close: () => undefined };
    },
  };
  const client = new AbortController();
  const got: string[] = [];
  await followLogs(deps(docker), q, [container('a')], async (r) => {
    got.push(r.line);
    if (r.line === 'three') client.abort();
  }, client.signal);
  assert.deepEqual(got, ['one', 'two', 'three']);
  assert.equal(calls.length, 2);
  assert.equal(typeof calls[1]?.since, 'number', 're-attached from when the stream ended');
});

test('a read too large to send is cut while reading, merged by time, and says so in a last record', async () => {
  const long = 'x'.repeat(16_000);
  // Two containers of 1,200 lines of 16,000 characters each: about 37 MiB, over the cap.
  // Each log is in time order (as Docker keeps it); their lines interleave.
  const at = (ms: number) => new Date(Date.parse('2024-05-01T10:00:00Z') + ms).toISOString().replace('Z', '000000Z');
  const logsOf = (offset: number) => Array.from({ length: 1200 }, (_, i) => chunk(`${at(i * 10 + offset)} ${long}`));
  const taken = { a: 0, b: 0 };
  const closed = { a: false, b: false };
  const docker = {
    listContainers: async () => [],
    async logs(id: string) {
      const name = id as 'a' | 'b';
      // Counts what the reader actually pulled from "Docker".
      const lazily = function* () {
        for (const c of logsOf(name === 'a' ? 0 : 5)) {
          taken[name]++;
          yield c;
        }
      };
      const output = Readable.from(lazily(), { highWaterMark: 1 });
      return { output, close: () => void (closed[name] = true) };
    },
  };
  const got: LogRecord[] = [];
  await readLogs(deps(docker), { ...q, follow: false }, [container('a'), container('b')], async (r) => void got.push(r), new AbortController().signal);
  const last = got.at(-1);
  assert.match(last?.line ?? '', /^berth: output cut at 16 MiB of lines; ask for fewer/);
  assert.equal(last?.end, 'cut');
  const lines = got.slice(0, -1);
  assert.ok(lines.length > 0 && lines.length < 2400, `${lines.length} lines`);
  assert.ok(lines.reduce((n, r) => n + r.line.length, 0) <= MAX_READ_CHARS);
  assert.deepEqual(lines.map((r) => r.t), lines.map((r) => r.t).sort(), 'merged by time');
  assert.deepEqual(new Set(lines.map((r) => r.container)), new Set(['demo-web-a', 'demo-web-b']), 'both containers, interleaved');
  assert.ok(taken.a < 1200 && taken.b < 1200, `stopped reading at the cap (read ${taken.a} + ${taken.b} of 2400 lines)`);
  assert.deepEqual(closed, { a: true, b: true }, 'both Docker streams dropped');

  // Under the cap: everything, and no such record.
  const small: LogRecord[] = [];
  const few = { listContainers: async () => [], logs: async () => ({ output: Readable.from([chunk('2024-05-01T10:00:00.000000000Z hi')]), close: () => undefined }) };
  await readLogs(deps(few), { ...q, follow: false }, [container('a')], async (r) => void small.push(r), new AbortController().signal);
  assert.deepEqual(small.map((r) => r.line), ['hi']);
});

test('a follow ends at its time limit: the Docker streams are dropped and a last record says so', { timeout: 10_000 }, async () => {
  let closed = 0;
  const docker = {
    listContainers: async () => [container('a')],
    async logs() {
      const out = new Readable({ objectMode: true, read() {} });
      return { output: out, close: () => ((closed++, out.push(null))) };
    },
  };
  const got: LogRecord[] = [];
  await followLogs(deps(docker), q, [container('a')], async (r) => void got.push(r), new AbortController().signal, () => true, 50);
  assert.equal(got.length, 1);
  assert.equal(got[0]?.end, 'follow_limit');
  assert.match(got[0]?.line ?? '', /^berth: follow ended after 1 s \(this agent's limit\); follow again to go on$/);
  assert.ok(closed >= 1, 'the Docker stream is not left open');
});
