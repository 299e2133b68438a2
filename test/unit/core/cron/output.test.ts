import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputTail, Redactor } from '../../../../agent/core/cron/output.js';

function through(r: Redactor, chunks: string[]): string {
  return chunks.map((c) => r.push(c)).join('') + r.flush();
}

describe('cron output redactor', () => {
  it('replaces a secret split across chunks', () => {
    const r = new Redactor({ DB_PASSWORD: 'hunter2-long' });
    assert.equal(through(r, ['pass=hun', 'ter2', '-lo', 'ng done\n']), 'pass=[secret DB_PASSWORD] done\n');
  });

  it('replaces several secrets, the longer first when one contains the other', () => {
    const r = new Redactor({ SHORT: 'abcd', LONG: 'abcdefgh', OTHER: 'zzzz9' });
    assert.equal(through(r, ['x abcdefgh y abcd ', 'zz', 'zz9 end']), 'x [secret LONG] y [secret SHORT] [secret OTHER] end');
  });

  it('leaves values shorter than 4 characters alone', () => {
    const r = new Redactor({ FLAG: '1', PORT: '80' });
    assert.equal(through(r, ['port 80 flag 1']), 'port 80 flag 1');
  });

  it('holds back only a possible secret prefix and gives it back on flush', () => {
    const r = new Redactor({ TOKEN: 'secretvalue' });
    const first = r.push('hello');
    assert.equal(first, '');
    assert.equal(r.flush(), 'hello');
    const none = new Redactor({});
    assert.equal(none.push('straight through'), 'straight through');
    assert.equal(none.flush(), '');
  });
});

describe('cron output tail', () => {
  it('keeps everything under the cap', () => {
    const t = new OutputTail(10);
    t.append('abc');
    t.append('');
    t.append('def');
    assert.equal(t.text(), 'abcdef');
    assert.equal(t.truncated, false);
  });

  it('keeps the last bytes and says it dropped some', () => {
    const t = new OutputTail(8);
    for (const piece of ['0123', '4567', '89ab', 'cd']) t.append(piece);
    assert.equal(t.text(), '6789abcd');
    assert.equal(t.truncated, true);
  });

  it('drops the rest of a character the cut landed in', () => {
    const t = new OutputTail(4);
    t.append('aé€'); // 1 + 2 + 3 bytes: the cut at 4 bytes lands inside é
    assert.equal(t.text(), '€');
    assert.ok(!t.text().includes('\uFFFD'));
    const u = new OutputTail(4);
    u.append('x😀'); // 1 + 4 bytes: the cut keeps the whole emoji
    assert.equal(u.text(), '😀');
    const v = new OutputTail(3);
    v.append('😀y'); // 4 + 1 bytes: the cut lands inside the emoji
    assert.equal(v.text(), 'y');
  });
});
