// Docker's multiplexed output, lines and timestamps, fed in awkward pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDemuxer, createLineSplitter, splitTimestamp, type OutputChunk } from '../../../agent/core/output-frames.js';
import { sinceParam } from '../../../agent/api/ops-input.js';

function frame(kind: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

const joined = (chunks: OutputChunk[]) => chunks.map((c) => `${c.stream}:${c.data.toString()}`).join('|');

test('frames split at every byte come out whole and on the right stream', () => {
  const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')]);
  for (const framing of ['framed', 'auto'] as const) {
    const demux = createDemuxer(framing);
    const out: OutputChunk[] = [];
    for (let i = 0; i < all.length; i++) out.push(...demux.push(all.subarray(i, i + 1)));
    out.push(...demux.end());
    assert.equal(out.map((c) => `${c.stream}:${c.data.toString()}`).join(''), 'stdout:out one\nstderr:err\nstdout:out two\n');
  }
});

test('auto: raw (TTY) output is passed through, even shorter than a header', () => {
  const demux = createDemuxer('auto');
  assert.deepEqual(demux.push(Buffer.from('hi')), []);
  assert.equal(joined(demux.end()), 'stdout:hi');
  const long = createDemuxer('auto');
  assert.equal(joined(long.push(Buffer.from('2024-05-01T10:00:00Z plain tty line\n'))), 'stdout:2024-05-01T10:00:00Z plain tty line\n');
});

test('a stream that falls out of step is handed over raw, not lost', () => {
  const demux = createDemuxer('framed');
  const out = demux.push(Buffer.concat([frame(1, 'ok\n'), Buffer.from('garbage that is not a frame')]));
  assert.equal(joined(out), 'stdout:ok\n|stdout:garbage that is not a frame');
});

test('lines: split anywhere, CRLF, split UTF-8, a cap on endless lines', () => {
  const s = createLineSplitter(10);
  const text = Buffer.from('héllo\r\nwörld\n0123456789abcdef\nend');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i++) lines.push(...s.push(text.subarray(i, i + 1)));
  lines.push(...s.end());
  assert.deepEqual(lines, ['héllo', 'wörld', '0123456789', 'abcdef', 'end']);
});

test('Docker timestamps become ISO milliseconds; a line without one keeps the fallback', () => {
  assert.deepEqual(splitTimestamp('2024-05-01T10:00:00.123456789Z hello world', 'x'), { t: '2024-05-01T10:00:00.123Z', line: 'hello world' });
  assert.deepEqual(splitTimestamp('2024-05-01T10:00:00Z ', 'x'), { t: '2024-05-01T10:00:00.000Z', line: '' });
  assert.deepEqual(splitTimestamp('no time here', 'fallback'), { t: 'fallback', line: 'no time here' });
});

test('since: durations and ISO times; everything else is refused', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  const s = now / 1000;
  assert.equal(sinceParam(undefined, now), undefined);
  assert.equal(sinceParam('90', now), s - 90);
  assert.equal(sinceParam('10m', now), s - 600);
  assert.equal(sinceParam('2h', now), s - 7200);
  assert.equal(sinceParam('1d', now), s - 86_400);
  assert.equal(sinceParam('2024-05-01T11:00:00Z', now), s - 3600);
  assert.equal(sinceParam('2024-05-01', now), Date.parse('2024-05-01') / 1000);
  for (const junk of ['yesterday', '10 m', '-5', '1w', '1e3', '2024-13-45T99:00:00Z', '9'.repeat(12), "'; rm -rf /"]) {
    assert.throws(() => sinceParam(junk, now), /since .* is neither a duration/, junk);
  }
});
