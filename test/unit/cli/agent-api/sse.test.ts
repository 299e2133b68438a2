import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, type SseMessage } from '../../../../cli/agent-api/sse.js';

function feed(chunks: Array<string | Uint8Array>): SseMessage[] {
  const parser = new SseParser();
  const out: SseMessage[] = [];
  for (const chunk of chunks) out.push(...parser.push(chunk));
  out.push(...parser.end());
  return out;
}

const STREAM = ': hello\n\nid: 1\nevent: progress\ndata: {"a":1}\n\nid: 2\r\nevent: progress\r\ndata: line one\r\ndata: line two\r\n\r\nevent: end\rdata:{"done":true}\r\r';
const EXPECTED: SseMessage[] = [
  { event: 'progress', data: '{"a":1}', id: '1' },
  { event: 'progress', data: 'line one\nline two', id: '2' },
  { event: 'end', data: '{"done":true}', id: '2' },
];

describe('SSE parser', () => {
  it('parses events, ids, comments, multi-line data and all three line endings', () => {
    assert.deepEqual(feed([STREAM]), EXPECTED);
  });

  it('gives the same events however the stream is split', () => {
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = [];
      for (let i = 0; i < STREAM.length; i += size) chunks.push(STREAM.slice(i, i + size));
      assert.deepEqual(feed(chunks), EXPECTED, `chunks of ${size}`);
    }
    for (let cut = 0; cut <= STREAM.length; cut++) assert.deepEqual(feed([STREAM.slice(0, cut), STREAM.slice(cut)]), EXPECTED, `cut at ${cut}`);
  });

  it('decodes UTF-8 split inside a character, and strips a leading BOM', () => {
    const bytes = new TextEncoder().encode('\uFEFFdata: héllo ✓\n\n');
    const out = feed([...bytes].map((b) => Uint8Array.of(b)));
    assert.deepEqual(out, [{ event: 'message', data: 'héllo ✓', id: undefined }]);
  });

  it('drops an unterminated event at the end, and events without data', () => {
    assert.deepEqual(feed(['event: progress\n\ndata: x']), []);
    assert.deepEqual(feed(['id: 5\n\nevent: end\ndata\n\n']), [{ event: 'end', data: '', id: '5' }]);
  });

  it('ignores unknown fields and ids with NUL, and reads retry', () => {
    const parser = new SseParser();
    const out = parser.push('foo: bar\nid: a\0b\nretry: 1500\ndata: x\n\n');
    assert.deepEqual(out, [{ event: 'message', data: 'x', id: undefined }]);
    assert.equal(parser.retryMs, 1500);
  });

  it('refuses a line that never ends, past the size bound', () => {
    const parser = new SseParser(100);
    assert.deepEqual(parser.push('data: ok\n\n'), [{ event: 'message', data: 'ok', id: undefined }]);
    assert.throws(() => parser.push('data: ' + 'x'.repeat(200)), /longer than 100 characters/);
    const many = new SseParser(100);
    assert.throws(() => many.push('data: 1234567890\n'.repeat(20)), /larger than 100 characters/);
  });
});
