import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDotenv, type DotenvEntry } from '../../../cli/secrets/dotenv.js';
import { ConfigError } from '../../../shared/errors.js';

const FILE = '.kamal/secrets';

function values(text: string): Record<string, string> {
  return Object.fromEntries(parseDotenv(text, FILE).map((e) => [e.key, e.value]));
}

function entry(text: string): DotenvEntry {
  const entries = parseDotenv(text, FILE);
  assert.equal(entries.length, 1);
  return entries[0] as DotenvEntry;
}

/** Asserts a ConfigError whose message starts with `file:line:` and contains none of `secrets`. */
function rejects(text: string, line: number, pattern: RegExp, secrets: string[] = []): void {
  assert.throws(
    () => parseDotenv(text, FILE),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.ok(e.message.startsWith(`${FILE}:${line}: `), e.message);
      assert.match(e.message, pattern);
      for (const secret of secrets) {
        assert.ok(!e.message.includes(secret) && !(e.hint ?? '').includes(secret), `message leaks ${secret}: ${e.message}`);
      }
      return true;
    },
  );
}

describe('secrets dotenv parser (Kamal 2 / dotenv 3 format)', () => {
  it('reads NAME=value lines with export, blanks around =, the colon form, comments and blank lines', () => {
    const text = ['# a comment', '', 'A=1', 'export B=2', '  C = 3', 'D: 4', '\tE=five  ', 'export=6', 'dotted.name=7', '   # indented comment'].join('\n');
    assert.deepEqual(values(text), { A: '1', B: '2', C: '3', D: '4', E: 'five', export: '6', 'dotted.name': '7' });
    assert.deepEqual(
      parseDotenv(text, FILE).map((e) => e.line),
      [3, 4, 5, 6, 7, 8, 9],
    );
  });

  it('takes single-quoted values literally', () => {
    assert.deepEqual(entry(`A='a $B \\n $(cmd) # not a comment'`), { line: 1, key: 'A', value: 'a $B \\n $(cmd) # not a comment', quote: 'single' });
  });

  it('unescapes double-quoted values: \\X becomes X, but \\n, \\r and \\$ stay as written (dotenv 3)', () => {
    assert.deepEqual(entry(String.raw`A="line1\nline2\r \"q\" \\ \t \$B # kept"  # comment`), {
      line: 1,
      key: 'A',
      value: 'line1\\nline2\\r "q" \\ t \\$B # kept',
      quote: 'double',
    });
  });

  it('turns \\n and \\r in double quotes into line breaks with DOTENV_LINEBREAK_MODE=legacy, from the file or the environment', () => {
    assert.equal(entry(String.raw`A="a\nb\rc"`).value, 'a\\nb\\rc');
    assert.equal(parseDotenv(String.raw`A="a\nb\rc"`, FILE, { linebreakMode: 'legacy' })[0]?.value, 'a\nb\rc');
    const entries = parseDotenv(['B="x\\ny"', 'DOTENV_LINEBREAK_MODE=legacy', 'C="x\\ny"', "D='x\\ny'", 'E=x\\ny'].join('\n'), FILE);
    assert.deepEqual(
      entries.map((e) => e.value),
      ['x\\ny', 'legacy', 'x\ny', 'x\\ny', 'xny'],
    );
    // The file's own setting wins over the environment's.
    assert.equal(parseDotenv('DOTENV_LINEBREAK_MODE=strict\nA="x\\ny"', FILE, { linebreakMode: 'legacy' })[1]?.value, 'x\\ny');
  });

  it('unescapes unquoted values without turning \\n into a line break', () => {
    assert.deepEqual(entry(String.raw`A=a\nb\"c\$D`), { line: 1, key: 'A', value: 'anb"c\\$D', quote: 'none' });
  });

  it('ends an unquoted value at the first # (as dotenv does), and a quoted one only at its quote', () => {
    assert.deepEqual(values(['A=abc # comment', 'B=abc#def', 'C="abc # def" # c', "D='x#y'", 'E=  spaced out  '].join('\n')), {
      A: 'abc',
      B: 'abc',
      C: 'abc # def',
      D: 'x#y',
      E: 'spaced out',
    });
  });

  it('reads multi-line quoted values and keeps counting lines after them', () => {
    const text = ['A="-----BEGIN KEY-----', 'abc', '-----END KEY-----"', "B='one", "two'", 'C=3'].join('\n');
    const entries = parseDotenv(text, FILE);
    assert.deepEqual(
      entries.map((e) => [e.key, e.value, e.line]),
      [
        ['A', '-----BEGIN KEY-----\nabc\n-----END KEY-----', 1],
        ['B', 'one\ntwo', 4],
        ['C', '3', 6],
      ],
    );
  });

  it('accepts empty values in every form, and a bare NAME as empty (dotenv 3)', () => {
    assert.deepEqual(values(['A=', 'B=""', "C=''", 'D', 'E= # nothing', 'F=#nothing'].join('\n')), { A: '', B: '', C: '', D: '', E: '', F: '' });
  });

  it('handles CRLF and lone CR line endings and a byte order mark', () => {
    assert.deepEqual(values('\uFEFFA=1\r\nB="x\r\ny"\r\nC=3\rD=4\r\n'), { A: '1', B: 'x\ny', C: '3', D: '4' });
    assert.deepEqual(
      parseDotenv('\uFEFFA=1\r\nB=2\rC=3', FILE).map((e) => e.line),
      [1, 2, 3],
    );
  });

  it('keeps control characters other than NUL in values', () => {
    assert.equal(entry('A="tab\there\u001b[31m bell\u0007"').value, 'tab\there\u001b[31m bell\u0007');
    assert.equal(entry('A=a\u0001b').value, 'a\u0001b');
  });

  it('keeps a later assignment of the same name in order (the last one wins when resolved)', () => {
    assert.deepEqual(
      parseDotenv('A=1\nA=2', FILE).map((e) => e.value),
      ['1', '2'],
    );
  });

  it('allows `export NAME` after NAME was set, and refuses it before', () => {
    assert.deepEqual(values('A=1\nexport A'), { A: '1' });
    rejects('B=1\nexport A', 2, /export A has no value and A is not set earlier/);
  });

  it('refuses names with other characters, naming the line and never echoing the text', () => {
    rejects('A=1\n\nFOO-BAR=hunter2', 3, /expected NAME=value/, ['hunter2', 'FOO-BAR']);
    rejects('=hunter2', 1, /expected NAME=value/, ['hunter2']);
    rejects('A=1\nhunter2 correct horse', 2, /expected NAME=value/, ['hunter2', 'horse']);
    rejects('NAME:hunter2', 1, /blank must follow the colon/, ['hunter2']);
    rejects('export A B=hunter2', 1, /expected NAME=value/, ['hunter2']);
  });

  it('refuses a quoted value that is never closed, naming the line it starts on', () => {
    rejects('A=1\nB="hunter2\nC=3\n', 2, /double-quoted value that starts here is never closed/, ['hunter2']);
    rejects("A='hunter2", 1, /single-quoted value that starts here is never closed/, ['hunter2']);
  });

  it('refuses text after a closing quote', () => {
    rejects('A="hunter2"trailing', 1, /unexpected text after the closing quote/, ['hunter2', 'trailing']);
    rejects("A='x' 'hunter2'", 1, /unexpected text after the closing quote/, ['hunter2']);
    // Positive control: blanks and a comment after the quote are fine.
    assert.equal(entry('A="x"   # fine').value, 'x');
  });

  it('refuses a NUL byte with its line', () => {
    rejects('A=1\nB=hun\0ter2', 2, /NUL byte/, ['hunter2', 'hun']);
  });

  it('refuses a text over 1 MiB before looking at it', () => {
    const big = `A=${'x'.repeat(1024 * 1024)}`;
    assert.throws(() => parseDotenv(big, FILE), (e: unknown) => e instanceof ConfigError && /\.kamal\/secrets is larger than 1 MiB/.test(e.message));
    // Positive control: just under the limit parses.
    assert.equal(entry(`A=${'x'.repeat(1024 * 1024 - 10)}`).value.length, 1024 * 1024 - 10);
  });

  it('closes a quoted value as the gem does: a quote after a backslash may end it when nothing follows', () => {
    assert.equal(entry(String.raw`A="x\\"`).value, 'x\\');
    assert.equal(entry(String.raw`A="say \"hi\""`).value, 'say "hi"');
    assert.equal(entry(String.raw`A="a\"`).value, 'a\\');
    assert.deepEqual(values(String.raw`A="a\"` + '\nB="b"'), { A: 'a\\', B: 'b' });
  });

  it('scans a long hostile quoted line in linear time (no backtracking blow-up)', () => {
    assert.equal(entry(`A="${'\\"'.repeat(200_000)}`).value, `${'"'.repeat(199_999)}\\`);
    rejects(`A="${'\\" x'.repeat(200_000)}`, 1, /never closed/);
    rejects(`A="${' '.repeat(500_000)}"x`, 1, /unexpected text after the closing quote/);
  });
});
