// The text exposition format 0.0.4 as Prometheus parses it: escapes, the
// HELP/TYPE lines, and histograms (cumulative buckets, +Inf, _sum, _count).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTENT_TYPE, Histogram, escapeHelp, escapeLabelValue, formatValue, renderFamilies } from '../../../agent/core/prometheus.js';

test('label values escape backslash, double quote and line feed, and nothing else', () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue('tab\there ünïcode {},='), 'tab\there ünïcode {},=');
  const text = renderFamilies([{ name: 'x_total', help: 'h', type: 'counter', samples: [{ labels: { host: 'a"b\\c\nd' }, value: 1 }] }]);
  assert.equal(text.split('\n')[2], 'x_total{host="a\\"b\\\\c\\nd"} 1');
});

test('HELP escapes backslash and line feed but keeps double quotes', () => {
  assert.equal(escapeHelp('say "hi"\\now\nthen'), 'say "hi"\\\\now\\nthen');
});

test('values: integers plainly, fractions as JavaScript prints them, specials as Go spells them', () => {
  assert.deepEqual([0, 3, 0.25, 1.5e-7, 2 ** 53, NaN, Infinity, -Infinity].map(formatValue), [
    '0', '3', '0.25', '1.5e-7', '9007199254740992', 'NaN', '+Inf', '-Inf',
  ]);
});

test('counters and gauges: HELP, TYPE, one line per sample; no labels means no braces', () => {
  const text = renderFamilies([
    { name: 'a_total', help: 'Requests.', type: 'counter', samples: [{ labels: { service: 's', code_class: '2xx' }, value: 2 }, { labels: { service: 's', code_class: '5xx' }, value: 1 }] },
    { name: 'b', help: 'Version.', type: 'gauge', samples: [{ labels: {}, value: 7 }] },
    { name: 'c', help: 'Nothing yet.', type: 'gauge', samples: [] },
  ]);
  assert.equal(
    text,
    [
      '# HELP a_total Requests.',
      '# TYPE a_total counter',
      'a_total{service="s",code_class="2xx"} 2',
      'a_total{service="s",code_class="5xx"} 1',
      '# HELP b Version.',
      '# TYPE b gauge',
      'b 7',
      '# HELP c Nothing yet.',
      '# TYPE c gauge',
      '',
    ].join('\n'),
  );
  assert.equal(renderFamilies([]), '');
  assert.equal(CONTENT_TYPE, 'text/plain; version=0.0.4; charset=utf-8');
});

test('a histogram renders cumulative buckets, +Inf equal to _count, and _sum', () => {
  const h = new Histogram([0.1, 1, 10]);
  for (const v of [0.05, 0.1, 0.5, 2, 20, 30]) h.observe(v);
  const text = renderFamilies([{ name: 'd_seconds', help: 'Duration.', type: 'histogram', samples: [{ labels: { service: 'x' }, histogram: h }] }]);
  assert.equal(
    text,
    [
      '# HELP d_seconds Duration.',
      '# TYPE d_seconds histogram',
      // A bucket's bound is inclusive: 0.1 counts in le="0.1".
      'd_seconds_bucket{service="x",le="0.1"} 2',
      'd_seconds_bucket{service="x",le="1"} 3',
      'd_seconds_bucket{service="x",le="10"} 4',
      'd_seconds_bucket{service="x",le="+Inf"} 6',
      'd_seconds_sum{service="x"} 52.65',
      'd_seconds_count{service="x"} 6',
      '',
    ].join('\n'),
  );
});

test('an empty histogram still renders every bucket at 0', () => {
  const text = renderFamilies([{ name: 'e', help: 'h', type: 'histogram', samples: [{ labels: {}, histogram: new Histogram([1]) }] }]);
  assert.match(text, /^e_bucket\{le="1"\} 0\ne_bucket\{le="\+Inf"\} 0\ne_sum 0\ne_count 0\n$/m);
});

test('invalid names, a reserved label, a family twice and unordered bounds are programming errors', () => {
  const family = (name: string, labels: Record<string, string> = {}) => ({ name, help: 'h', type: 'gauge' as const, samples: [{ labels, value: 1 }] });
  assert.throws(() => renderFamilies([family('1abc')]), /invalid metric name/);
  assert.throws(() => renderFamilies([family('ok', { 'bad-name': 'x' })]), /invalid label name/);
  assert.throws(() => renderFamilies([family('ok', { __name__: 'x' })]), /invalid label name/);
  assert.throws(() => renderFamilies([family('ok', { le: 'x' })]), /invalid label name/);
  assert.throws(() => renderFamilies([family('ok'), family('ok')]), /rendered twice/);
  assert.throws(() => new Histogram([1, 1]), /strictly increasing/);
  assert.throws(() => new Histogram([1, Infinity]), /finite/);
});
