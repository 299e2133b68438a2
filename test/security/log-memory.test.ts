// Attack: a read key asks for the logs of a container with a large log, many
// times at once, and reads slowly or not at all. The agent must stream each
// answer under a cap, hold a bounded amount per stream, limit how many streams
// one key and everyone together hold, and end follow streams after a while.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLI_BIN } from '../support/berth-host.js';
import { dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { spawnProcess } from '../support/processes.js';
import { agentId, type OperatorKey } from '../support/signed-client.js';
import { openSignedStream, type OpenStream } from '../support/signed-stream.js';
import { waitFor } from '../support/wait.js';
import { generateOperatorKey } from '../../shared/keys.js';

/** 10,000 lines of 16,000 characters: 160 MB, the size of the reported attack. */
const LOG_LINES = 10_000;
const LINE_CHARS = 16_000;
/** The agent's RSS bound while 32 readers hold reads of that log open (docs/internals.md "Logs"). */
const RSS_BOUND_MIB = 320;
const FOLLOW_LIMIT_S = 4;
const TOTAL_STREAMS = 32;
const STREAMS_PER_KEY = 8;

let e: E2eApp;
let aud: string;
let container: string;
const readers: OperatorKey[] = [];

before(async () => {
  // The readers all come from 127.0.0.1 here, where in life they would be many
  // clients: the per-address connection cap (32 by default, its own attack in
  // connection-limits.test.ts) would otherwise refuse the 33rd connection
  // before the log stream caps this file tests are reached.
  e = await setupApp('logmem', { agentEnv: { BERTH_LOG_FOLLOW_LIMIT: String(FOLLOW_LIMIT_S), BERTH_MAX_CONNECTIONS_PER_IP: '128' } });
  // Room for the whole flood: the default json-file cap (10m x 3) would rotate most of it away.
  e.configure('v1', 'logging:\n  driver: json-file\n  options:\n    max-size: 100m\n    max-file: "2"\n');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  aud = await agentId(e.hosts[0]!);
  for (let i = 0; i < TOTAL_STREAMS / STREAMS_PER_KEY + 1; i++) {
    const k = await generateOperatorKey(`reader${i}@test`);
    await e.hosts[0]!.trust(k.line, 'read');
    readers.push({ privateJwk: k.privateJwk, kid: k.kid });
  }
  const app = (await e.containers()).find((c) => c.labels['berth.kind'] === 'app' && c.state === 'running');
  assert.ok(app, 'a running app container');
  container = app.name;
  const engine = e.hosts[0]!.engine.host;
  await dockerOk(engine, [
    'exec', container, 'sh', '-c',
    `l=$(printf '%${LINE_CHARS}s' | tr ' ' x); yes "$l" | head -n ${LOG_LINES} >/proc/1/fd/1; echo flood-done >/proc/1/fd/1`,
  ]);
  await waitFor('the flood in the container log', async () => (await dockerOk(engine, ['logs', '--tail', '1', container])).includes('flood-done'), 120_000, { intervalMs: 500 });
});
after(async () => {
  await e?.teardown();
});

function rssMiB(): number {
  const status = readFileSync(`/proc/${e.hosts[0]!.agent!.pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
  return Math.round(kb / 1024);
}

const logsPath = (query: string) => `/v1/services/logmem/logs?${query}`;
const open = (key: OperatorKey, query = 'tail=10000') => openSignedStream(e.hosts[0]!, key, aud, logsPath(query));

async function closeAll(streams: OpenStream[]): Promise<void> {
  for (const s of streams) s.close();
  // The slots come back once the agent noticed: a new read by the first key gets its stream.
  await waitFor('the log stream slots released', async () => {
    const s = await open(readers[0]!, 'tail=1');
    s.close();
    return s.status === 200;
  }, 30_000, { intervalMs: 200 });
}

test(`32 concurrent reads of a 160 MB log that the clients do not read keep the agent under ${RSS_BOUND_MIB} MiB`, async (t) => {
  const before = rssMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 50);
  const streams: OpenStream[] = [];
  try {
    for (let k = 0; k < TOTAL_STREAMS / STREAMS_PER_KEY; k++) {
      streams.push(...(await Promise.all(Array.from({ length: STREAMS_PER_KEY }, () => open(readers[k]!)))));
    }
    assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
    // Every reader has had bytes sent to it: the agent is reading Docker for all of them.
    await waitFor('a first answer on every stream', () => streams.every((s) => s.res.readableLength > 0), 120_000, { intervalMs: 100 });
    // The readers stay paused while the agent could buffer: 40 more samples of its RSS.
    let samples = 0;
    const counter = setInterval(() => samples++, 50);
    await waitFor('40 RSS samples with the readers paused', () => samples >= 40, 30_000);
    clearInterval(counter);
    t.diagnostic(`agent RSS: ${before} MiB before, peak ${peak} MiB with ${TOTAL_STREAMS} paused reads`);
    assert.ok(peak < RSS_BOUND_MIB, `agent RSS peaked at ${peak} MiB (from ${before} MiB) with the readers paused, above ${RSS_BOUND_MIB} MiB`);

    const extra = await open(readers[TOTAL_STREAMS / STREAMS_PER_KEY]!);
    assert.equal(extra.status, 429, 'a 33rd stream, from a key holding none');
    assert.match((await extra.drain()).tail, /"code":"too_many_log_streams".*32/);

    const answers = await Promise.all(streams.map((s) => s.drain()));
    for (const a of answers) assert.match(a.tail, /berth: output cut at 16 MiB/);
    t.diagnostic(`agent RSS: peak ${peak} MiB once the ${TOTAL_STREAMS} reads were read, ${answers.reduce((n, a) => n + a.bytes, 0) >> 20} MiB sent`);
    assert.ok(peak < RSS_BOUND_MIB, `agent RSS peaked at ${peak} MiB (from ${before} MiB), above ${RSS_BOUND_MIB} MiB`);
  } finally {
    clearInterval(sampler);
    await closeAll(streams);
  }
});

test(`one read key cannot hold more than ${STREAMS_PER_KEY} log streams; another key still gets one`, async () => {
  const streams: OpenStream[] = [];
  try {
    streams.push(...(await Promise.all(Array.from({ length: STREAMS_PER_KEY }, () => open(readers[0]!)))));
    assert.deepEqual(streams.map((s) => s.status), streams.map(() => 200));
    const ninth = await open(readers[0]!);
    streams.push(ninth);
    assert.equal(ninth.status, 429);
    const body = JSON.parse((await ninth.drain()).tail) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'too_many_log_streams');
    assert.match(body.error.message, new RegExp(`${STREAMS_PER_KEY} per key`));
    const other = await open(readers[1]!);
    streams.push(other);
    assert.equal(other.status, 200);
  } finally {
    await closeAll(streams);
  }
});

test('a tail above 10000 lines is refused with 400 naming the limit', async () => {
  const s = await open(readers[0]!, 'tail=10001');
  assert.equal(s.status, 400);
  assert.match((await s.drain()).tail, /tail must be a whole number from 0 to 10000/);
});

test('a follow stream ends by itself at the agent time limit, with a last record saying so', async () => {
  const s = await open(readers[0]!, 'follow=1&tail=0');
  assert.equal(s.status, 200);
  const drained = await Promise.race([
    s.drain(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the follow stream did not end within 60 s')), 60_000).unref()),
  ]).finally(() => s.close());
  const last = JSON.parse(drained.tail.trim().split('\n').at(-1)!) as { end?: string; line: string };
  assert.equal(last.end, 'follow_limit');
  assert.match(last.line, new RegExp(`follow ended after ${FOLLOW_LIMIT_S} s`));
});

test('deploy logs -f follows on across the agent ending its stream at the time limit', async (t) => {
  const host = e.hosts[0]!;
  const engine = host.engine.host;
  const print = (line: string) => dockerOk(engine, ['exec', container, 'sh', '-c', `echo ${line} >/proc/1/fd/1`]);
  const ended = () => host.agentLog().split('\n').filter((l) => l.includes('log follow reached its time limit')).length;
  const endedBefore = ended();
  await print('follow-marker-one');
  const cli = spawnProcess(process.execPath, [CLI_BIN, 'logs', '-f', '-n', '1'], { cwd: e.app.dir, env: { BERTH_KEY: e.app.keyFile, NO_COLOR: '1' }, t });
  await cli.waitForLine(/follow-marker-one/, { timeoutMs: 30_000 });
  await waitFor('the agent ending the follow at its limit', () => ended() > endedBefore, 60_000, { intervalMs: 200, explain: () => cli.output() });
  await print('follow-marker-two');
  await cli.waitForLine(/follow-marker-two/, { timeoutMs: 30_000 });
  assert.ok(cli.running(), `the CLI still follows:\n${cli.output()}`);
  assert.equal(cli.stdout().split('\n').filter((l) => l.includes('follow-marker-one')).length, 1, `each line once:\n${cli.output()}`);
  await cli.kill();
});
