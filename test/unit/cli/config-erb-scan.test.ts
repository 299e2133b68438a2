// Splitting templates as Ruby's ERB (trim_mode "-") does, and mapping rendered
// lines back to source lines through the markers.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { markTemplate, scanErb, unmark } from '../../../cli/config/erb-scan.js';

describe('scanErb', () => {
  it('splits text, output, code and comment tags with their lines', () => {
    assert.deepEqual(scanErb('a: <%= x %>\n<%# c %>\n  <%- if y -%>\nb\n<% end %>'), [
      { kind: 'text', text: 'a: ', line: 1 },
      { kind: 'expr', code: ' x ', line: 1 },
      { kind: 'text', text: '\n', line: 1 },
      { kind: 'comment', code: ' c ', line: 2 },
      { kind: 'text', text: '\n', line: 2 },
      { kind: 'code', code: ' if y ', line: 3 },
      { kind: 'text', text: 'b\n', line: 4 },
      { kind: 'code', code: ' end ', line: 5 },
    ]);
  });

  it('keeps <%% as a literal <% and %%> inside a tag as %>', () => {
    assert.deepEqual(scanErb('<%% x <%= "%%>" %>'), [
      { kind: 'text', text: '<% x ', line: 1 },
      { kind: 'expr', code: ' "%>" ', line: 1 },
    ]);
  });

  it('reports a tag that is never closed', () => {
    assert.deepEqual(scanErb('a\n<%= x\n'), [
      { kind: 'text', text: 'a\n', line: 1 },
      { kind: 'unterminated', line: 2 },
    ]);
  });
});

describe('markTemplate and unmark', () => {
  it('give each rendered line its source line, whatever Ruby made of the tags', () => {
    const template = 'a: 1\n<%= "b: 2\\nc: 3" %>\n  <%- if true -%>\nd: 4\n  <%- end -%>\n<%# note -%>\ne: <%= 5 -%>\n\nf: 6\n';
    const nonce = 'feed';
    const rendered = execFileSync('ruby', ['-rerb', '-e', 'print ERB.new($stdin.read, trim_mode: "-").result'], { input: markTemplate(template, nonce), encoding: 'utf8' });
    const plain = execFileSync('ruby', ['-rerb', '-e', 'print ERB.new($stdin.read, trim_mode: "-").result'], { input: template, encoding: 'utf8' });
    const { text, lines } = unmark(rendered, nonce);
    assert.equal(text, plain);
    assert.deepEqual(text.split('\n'), ['a: 1', 'b: 2', 'c: 3', 'd: 4', 'e: 5', 'f: 6', '']);
    assert.deepEqual(lines, [1, 2, 2, 4, 7, 9, 10]);
  });
});
