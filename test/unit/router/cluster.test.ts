import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedConnectionBudget } from '../../../agent/router/cluster-connections.js';
import { parseMetricsCounts, parsePrimaryMessage, parseWorkerMessage } from '../../../agent/router/cluster-protocol.js';
import { lineChunks, PIPE_BUF } from '../../../agent/router/cluster-worker.js';

test('IPC messages are checked for shape before anything acts on them', () => {
  assert.deepEqual(parsePrimaryMessage({ t: 'commit', id: 3, version: 7 }), { t: 'commit', id: 3, version: 7 });
  assert.deepEqual(parseWorkerMessage({ t: 'conns', open: [[1, '10.0.0.1']], close: ['10.0.0.2'] }), { t: 'conns', open: [[1, '10.0.0.1']], close: ['10.0.0.2'] });
  for (const bad of [null, [], 'x', { t: 'nope' }, { t: 'commit', id: -1, version: 1 }, { t: 'commit', id: 1 }, { t: 'prepare', id: 1, set: { version: 1, routes: [{ target: 'x' }] } }, { t: 'grants', grants: [[1, 'yes']] }, { t: 'grants', grants: [[-1, true]] }]) {
    assert.throws(() => parsePrimaryMessage(bad), JSON.stringify(bad));
  }
  for (const bad of [{ t: 'reply', id: 'a', ok: true }, { t: 'conns', open: [[1]], close: [] }, { t: 'conns', open: [], close: ['x'.repeat(101)] }, { t: 'init' }]) {
    assert.throws(() => parseWorkerMessage(bad), JSON.stringify(bad));
  }
  assert.throws(() => parseMetricsCounts({ slots: { a: { requests: [1], buckets: [], sum: 0, count: 0, inflight: 0 } }, down: [], open: 0 }, 2, 6));
});

test('request log batches are cut at line ends into writes of at most PIPE_BUF bytes', () => {
  const line = (i: number) => `{"n":${i},"pad":"${'é'.repeat(50 + (i % 30))}"}\n`;
  const batch = Array.from({ length: 200 }, (_, i) => line(i)).join('');
  const chunks = lineChunks(batch);
  assert.equal(chunks.join(''), batch);
  for (const c of chunks) {
    assert.ok(Buffer.byteLength(c) <= PIPE_BUF);
    assert.ok(c.endsWith('\n'));
  }
  assert.deepEqual(lineChunks('{"a":1}\n'), ['{"a":1}\n']);
  const long = `${'x'.repeat(5000)}\n`;
  assert.deepEqual(lineChunks(`a\n${long}b\n`), ['a\n', long, 'b\n'], 'a line longer than PIPE_BUF is a write of its own');
});

test('the primary counts the connections of all workers against one cap, and frees a dead worker\'s', () => {
  const budget = new SharedConnectionBudget({ maxConnections: 3, maxPerAddress: 2, headerTimeoutMs: 1000 }, () => undefined);
  assert.equal(budget.open(1, 'a'), true);
  assert.equal(budget.open(2, 'a'), true);
  assert.equal(budget.open(2, 'a'), false, 'per address, whichever worker asks');
  assert.equal(budget.open(1, 'b'), true);
  assert.equal(budget.open(2, 'c'), false, 'the total');
  budget.close(1, 'c');
  assert.equal(budget.open(2, 'c'), false, 'a close for a slot the worker does not hold frees nothing');
  budget.workerGone(1);
  assert.equal(budget.open(2, 'a'), true);
  assert.equal(budget.open(2, 'b'), true);
  assert.equal(budget.open(2, 'd'), false);
});
