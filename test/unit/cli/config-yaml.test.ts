// deploy.yml's scalars read as Ruby's Psych reads them (Kamal's YAML loader),
// not as YAML 1.1 in general: the values below were printed by
// `ruby -ryaml -e 'p YAML.load(...)'` (Ruby 3.1, Psych 4).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseYaml } from '../../../cli/config/yaml.js';

describe('YAML scalars as Psych reads them', () => {
  it('keeps y/n, ".", exponent-only numbers and dates as the text written; reads yes/no/on/off and numbers as Psych does', () => {
    const text = 'a: y\nb: N\nc: yes\nd: off\ne: .\nf: 0o17\ng: 017\ni: 0x1F\nj: 1_000\nk: ~\nm: .5\nn: +1\no: Yes\np: TRUE\nq: 1e3\nr: 1.0e+3\nt: 0b101\nl: 2024-01-01\nx: [ON, n, No]\n';
    assert.deepEqual(parseYaml(text, 't.yml').value, {
      a: 'y', b: 'N', c: true, d: false, e: '.', f: '0o17', g: 15, i: 31, j: 1000, k: null, m: 0.5, n: 1, o: true, p: true, q: '1e3', r: 1000, t: 5, l: '2024-01-01', x: [true, 'n', false],
    });
  });

  it('reads an env key named N as the key N (not "false")', () => {
    assert.deepEqual(parseYaml('env:\n  clear:\n    N: 7\n    Y: yes\n', 't.yml').value, { env: { clear: { N: 7, Y: true } } });
  });
});
