// The interactive exec protocol, with a fake process: input before the start,
// control frames, the exit frame, hostile frames, a client that leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { interactiveExec, MAX_BUFFERED_BYTES } from '../../../agent/api/exec-socket.js';
import type { WsPeer } from '../../../agent/api/websocket.js';
import type { OutputChunk, ProcessSession } from '../../../agent/docker.js';
import { BerthError } from '../../../shared/errors.js';

const silent = { info() {}, warn() {}, error() {} };

function fakeProcess(out: Readable, code: number | null = 0) {
  const got: string[] = [];
  const session: ProcessSession = {
    output: out,
    close: () => undefined,
    write: (d) => void got.push(`data:${Buffer.from(d).toString()}`),
    endInput: () => void got.push('eof'),
    resize: async (cols, rows) => void got.push(`resize:${cols}x${rows}`),
    exitCode: async () => code,
    dispose: async () => {
      got.push('dispose');
      out.push(null);
    },
  };
  return { session, got };
}

function peer() {
  const sent: Array<string | Uint8Array> = [];
  let closed: number | undefined;
  let onClosed: () => void = () => undefined;
  const whenClosed = new Promise<void>((r) => (onClosed = r));
  const p: WsPeer = {
    send: (d) => void sent.push(d),
    close: (code) => {
      closed = code;
      onClosed();
    },
    bufferedAmount: () => 0,
    drained: async () => undefined,
  };
  return { p, sent, closedWith: () => closed, whenClosed };
}

test('input sent before the process started is delivered in order; output, then exit and close 1000', async () => {
  const out = new Readable({ objectMode: true, read() {} });
  const { session, got } = fakeProcess(out, 4);
  let start!: (s: ProcessSession) => void;
  let doneWith: number | null | undefined;
  const h = interactiveExec({ start: () => new Promise((r) => (start = r)), log: silent, done: (c) => (doneWith = c) });
  const ws = peer();
  h.onOpen(ws.p);
  h.onMessage(new TextEncoder().encode('echo hello\n'), ws.p);
  h.onMessage('{"type":"resize","cols":120,"rows":40}', ws.p);
  h.onMessage('{"type":"eof"}', ws.p);
  start(session);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['data:echo hello\n', 'resize:120x40', 'eof']);
  out.push({ stream: 'stdout', data: Buffer.from('hello\n') } satisfies OutputChunk);
  out.push(null);
  await ws.whenClosed;
  assert.equal(Buffer.from(ws.sent[0] as Uint8Array).toString(), 'hello\n');
  assert.deepEqual(JSON.parse(ws.sent[1] as string), { type: 'exit', code: 4 });
  assert.equal(ws.closedWith(), 1000);
  assert.equal(doneWith, 4);
});

test('a malformed control frame ends the session with an error frame and close 1011', async () => {
  for (const bad of ['{"type":"resize","cols":0,"rows":10}', '{"type":"resize","cols":"80","rows":24}', '{"type":"kill"}', 'not json', '{"type":"eof","x":1}', 'x'.repeat(2000)]) {
    const out = new Readable({ objectMode: true, read() {} });
    const { session, got } = fakeProcess(out);
    const h = interactiveExec({ start: async () => session, log: silent, done: () => undefined });
    const ws = peer();
    h.onOpen(ws.p);
    await new Promise((r) => setImmediate(r));
    h.onMessage(bad, ws.p);
    await ws.whenClosed;
    assert.equal(ws.closedWith(), 1011, bad);
    assert.match(JSON.parse(ws.sent.at(-1) as string).message, /a text frame must be/);
    assert.ok(got.includes('dispose'), 'the process is stopped');
  }
});

test('a process that cannot start: an error frame naming why, close 1011, done once', async () => {
  const calls: Array<number | null> = [];
  const h = interactiveExec({ start: async () => { throw new BerthError('guardrail', 400, 'volume /etc is not allowed'); }, log: silent, done: (c) => void calls.push(c) });
  const ws = peer();
  h.onOpen(ws.p);
  await ws.whenClosed;
  assert.deepEqual(JSON.parse(ws.sent[0] as string), { type: 'error', message: 'volume /etc is not allowed' });
  assert.equal(ws.closedWith(), 1011);
  h.onClose();
  assert.deepEqual(calls, [null]);
});

test('an unexpected failure to start: a generic error frame; the detail goes to the agent log only', async () => {
  const logged: unknown[] = [];
  const log = { ...silent, warn: (_m: string, f?: unknown) => void logged.push(f) };
  const h = interactiveExec({ start: async () => { throw new Error('connect ECONNREFUSED /var/run/docker.sock (token=abc123)'); }, log, done: () => undefined });
  const ws = peer();
  h.onOpen(ws.p);
  await ws.whenClosed;
  assert.deepEqual(JSON.parse(ws.sent[0] as string), { type: 'error', message: 'the command could not be started; see the agent log' });
  assert.equal(ws.closedWith(), 1011);
  assert.match(JSON.stringify(logged), /ECONNREFUSED/);
});

test('a client that does not read: the process output is not read until the socket drained', async () => {
  const out = new Readable({ objectMode: true, read() {} });
  const { session } = fakeProcess(out, 0);
  const ws = peer();
  let buffered = 0;
  let drain!: () => void;
  let waiting = 0;
  ws.p.send = (d) => {
    ws.sent.push(d);
    buffered += typeof d === 'string' ? d.length : d.length;
  };
  ws.p.bufferedAmount = () => buffered;
  ws.p.drained = () => new Promise<void>((r) => {
    waiting++;
    drain = () => {
      buffered = 0;
      r();
    };
  });
  const h = interactiveExec({ start: async () => session, log: silent, done: () => undefined });
  h.onOpen(ws.p);
  const big = Buffer.alloc(MAX_BUFFERED_BYTES / 4);
  for (let i = 0; i < 12; i++) out.push({ stream: 'stdout', data: big } satisfies OutputChunk);
  out.push(null);
  while (waiting === 0 && ws.closedWith() === undefined) await new Promise((r) => setImmediate(r));
  // Past the cap after the fifth chunk: nothing more is sent until the client caught up.
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(ws.sent.length, 5);
  drain();
  while (waiting === 1) await new Promise((r) => setImmediate(r));
  assert.equal(ws.sent.length, 10);
  drain();
  await ws.whenClosed;
  assert.equal(ws.sent.filter((d) => typeof d !== 'string').length, 12);
  assert.deepEqual(JSON.parse(ws.sent.at(-1) as string), { type: 'exit', code: 0 });
});

test('the client leaves: the process is disposed and the run is over (exit code unknown)', async () => {
  const out = new Readable({ objectMode: true, read() {} });
  const { session, got } = fakeProcess(out, 0);
  const calls: Array<number | null> = [];
  const h = interactiveExec({ start: async () => session, log: silent, done: (c) => void calls.push(c) });
  const ws = peer();
  h.onOpen(ws.p);
  await new Promise((r) => setImmediate(r));
  h.onClose();
  await new Promise((r) => setImmediate(r));
  assert.ok(got.includes('dispose'));
  assert.deepEqual(calls, [null]);
  assert.equal(ws.sent.length, 0, 'nothing is sent to a closed socket');
});

test('too much input before the start: error frame and close 1011; the process that then arrives is stopped, sent nothing, and reported done once', async () => {
  const out = new Readable({ objectMode: true, read() {} });
  const { session, got } = fakeProcess(out, 0);
  let start!: (s: ProcessSession) => void;
  const calls: Array<number | null> = [];
  const h = interactiveExec({ start: () => new Promise((r) => (start = r)), log: silent, done: (c) => void calls.push(c) });
  const ws = peer();
  h.onOpen(ws.p);
  h.onMessage(new Uint8Array(1024 * 1024 + 1), ws.p);
  await ws.whenClosed;
  assert.equal(ws.closedWith(), 1011);
  assert.deepEqual(JSON.parse(ws.sent[0] as string), { type: 'error', message: 'too much input before the command started' });
  assert.deepEqual(calls, [], 'not over before the process is stopped');
  h.onMessage(new TextEncoder().encode('late\n'), ws.p);
  start(session);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, ['dispose'], 'no input applied; stopped at once');
  assert.deepEqual(calls, [null]);
  h.onClose();
  assert.deepEqual(calls, [null], 'done once');
  assert.equal(ws.sent.length, 1, 'only the error frame');
});

test('a malformed control frame while the process runs: done once, and no exit frame after the error', async () => {
  const out = new Readable({ objectMode: true, read() {} });
  const { session } = fakeProcess(out, 0);
  const calls: Array<number | null> = [];
  const h = interactiveExec({ start: async () => session, log: silent, done: (c) => void calls.push(c) });
  const ws = peer();
  h.onOpen(ws.p);
  await new Promise((r) => setImmediate(r));
  h.onMessage('{"type":"kill"}', ws.p);
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  h.onClose();
  assert.deepEqual(calls, [null]);
  assert.equal(ws.sent.length, 1);
  assert.equal(JSON.parse(ws.sent[0] as string).type, 'error');
});
