import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retentionPlan, type RetentionRow } from '../../../../agent/core/backups/retention.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;
const ok = (id: number, ageDays = 0): RetentionRow => ({ id, outcome: 'ok', verify: null, startedAtMs: NOW - ageDays * DAY });
const verifyFailed = (id: number): RetentionRow => ({ id, outcome: 'failed', verify: 'failed', startedAtMs: NOW });

describe('backup retention', () => {
  it('keeps the `keep` newest good backups and deletes the older ones, newest first', () => {
    assert.deepEqual(retentionPlan([ok(1), ok(2), ok(3), ok(4)], { keep: 2 }, NOW), [2, 1]);
    assert.deepEqual(retentionPlan([ok(3), ok(1), ok(2)], { keep: 3 }, NOW), []);
  });

  it('deletes good backups older than max_age, never the newest good one', () => {
    assert.deepEqual(retentionPlan([ok(1, 10), ok(2, 9), ok(3, 1)], { keep: 7, maxAgeS: 5 * 86_400 }, NOW), [2, 1]);
    assert.deepEqual(retentionPlan([ok(1, 10), ok(2, 9)], { keep: 7, maxAgeS: 5 * 86_400 }, NOW), [1], 'all too old: the newest stays');
  });

  it('deletes a verify-failed file once a newer good backup exists', () => {
    assert.deepEqual(retentionPlan([ok(1), verifyFailed(2), ok(3)], { keep: 5 }, NOW), [2]);
    assert.deepEqual(retentionPlan([ok(1), verifyFailed(2)], { keep: 5 }, NOW), [], 'kept for inspection while it is the newest');
  });

  it('deletes a verify-failed file beyond keep', () => {
    assert.deepEqual(retentionPlan([verifyFailed(1), verifyFailed(2), verifyFailed(3)], { keep: 2 }, NOW), [1]);
  });

  it('leaves rows that are neither good nor verify-failed alone', () => {
    assert.deepEqual(retentionPlan([{ id: 1, outcome: 'failed', verify: null, startedAtMs: 0 }, ok(2), ok(3)], { keep: 1 }, NOW), [2]);
  });
});
