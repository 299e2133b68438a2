// The counting pass-through behind max_request_body / max_response_body.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { byteLimit, declaredOver, requestBodyLimit } from '../../../agent/router/body-limits.js';

async function through(chunks: string[], limit: number): Promise<{ out: string; overflows: number }> {
  let overflows = 0;
  const counter = byteLimit(limit, () => overflows++);
  const parts: Buffer[] = [];
  counter.on('data', (c: Buffer) => parts.push(c));
  await new Promise<void>((resolve) => {
    counter.on('end', resolve);
    Readable.from(chunks.map((c) => Buffer.from(c))).pipe(counter);
  });
  return { out: Buffer.concat(parts).toString(), overflows };
}

test('up to the limit passes whole; the chunk that crosses it and all after are held back, overflow reported once', async () => {
  assert.deepEqual(await through(['abc', 'de'], 5), { out: 'abcde', overflows: 0 });
  assert.deepEqual(await through(['abc', 'def', 'g'], 5), { out: 'abc', overflows: 1 });
  assert.deepEqual(await through(['abcdef'], 5), { out: '', overflows: 1 });
});

test('declared lengths: over the limit only; no limit for 0 or absent', () => {
  assert.equal(declaredOver({ 'content-length': '11' }, 10), true);
  assert.equal(declaredOver({ 'content-length': '10' }, 10), false);
  assert.equal(declaredOver({}, 10), false);
  assert.equal(declaredOver({ 'content-length': '99' }, undefined), false);
  const route = { service: 'a', hosts: ['a.test'], target: '10.0.0.1:80' };
  assert.equal(requestBodyLimit({ ...route, buffering: { max_request_body: 0 } }), undefined);
  assert.equal(requestBodyLimit(route), undefined);
  assert.equal(requestBodyLimit({ ...route, buffering: { max_request_body: 7 } }), 7);
});
