import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter } from '../../../shared/registry/resolve.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('120', NOW), 120_000);
    assert.equal(parseRetryAfter(' 0 ', NOW), 0);
    assert.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
  });

  it('reads a date in the past as now, and anything else as absent', () => {
    assert.equal(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW), 0);
    for (const v of [undefined, '', '-5', '1.5', 'soon', '99999999999']) assert.equal(parseRetryAfter(v, NOW), undefined, String(v));
  });
});
