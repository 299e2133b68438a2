import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nextPoll,
  pollJitter,
  pollOutcome,
  POLL_BACKOFF_CAP_MS,
  RETRY_AFTER_CAP_MS,
  type PollInput,
} from '../../../agent/core/poll-schedule.js';
import { RegistryError, UpstreamError } from '../../../shared/errors.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const base: PollInput = { intervalMs: 5 * MIN, agentId: 'agent-a', service: 'web', outcome: { kind: 'ok' }, consecutiveFailures: 0, nowMs: NOW };
const poll = (p: Partial<PollInput>) => nextPoll({ ...base, ...p });

describe('poll schedule', () => {
  it('polls once per interval give or take 10%, the same offset for the same agent and service', () => {
    const first = poll({});
    assert.equal(first.atMs, NOW + first.delayMs);
    assert.ok(first.delayMs >= 4.5 * MIN && first.delayMs <= 5.5 * MIN, String(first.delayMs));
    assert.deepEqual(poll({ nowMs: NOW + 1 }), { atMs: first.atMs + 1, delayMs: first.delayMs });
  });

  it('spreads a fleet: 200 agents on one policy do not share a second', () => {
    const delays = Array.from({ length: 200 }, (_, i) => poll({ agentId: `agent-${i}` }).delayMs);
    for (const d of delays) assert.ok(d >= 4.5 * MIN && d < 5.5 * MIN, String(d));
    const seconds = new Set(delays.map((d) => Math.floor(d / 1000)));
    assert.ok(seconds.size >= 40, `only ${seconds.size} distinct seconds over a 60 s window`);
    // Both sides of the interval are used.
    assert.ok(delays.some((d) => d < 4.8 * MIN) && delays.some((d) => d > 5.2 * MIN));
    // Another service of the same agent gets another offset.
    assert.notEqual(pollJitter('agent-a', 'web'), pollJitter('agent-a', 'api'));
    assert.notEqual(pollJitter('agent-a', 'web'), pollJitter('agent-aweb', ''));
  });

  it('backs off exponentially on errors, never sooner than the interval, capped at 8 intervals', () => {
    const j = 1 + 0.1 * pollJitter(base.agentId, base.service);
    const err = { kind: 'error' } as const;
    const delays = [1, 2, 3, 4, 5, 10, 1000].map((n) => poll({ outcome: err, consecutiveFailures: n }).delayMs);
    assert.deepEqual(delays, [5, 10, 20, 40, 40, 40, 40].map((m) => Math.round(m * MIN * j)));
    // A count of 0 with an error outcome is read as one failure.
    assert.equal(poll({ outcome: err, consecutiveFailures: 0 }).delayMs, delays[0]);
  });

  it('caps backoff at an hour for long intervals, and at the interval when it is longer still', () => {
    const j = 1 + 0.1 * pollJitter(base.agentId, base.service);
    assert.equal(poll({ intervalMs: 30 * MIN, outcome: { kind: 'error' }, consecutiveFailures: 6 }).delayMs, Math.round(POLL_BACKOFF_CAP_MS * j));
    assert.equal(poll({ intervalMs: 2 * 60 * MIN, outcome: { kind: 'error' }, consecutiveFailures: 6 }).delayMs, Math.round(2 * 60 * MIN * j));
  });

  it('honours Retry-After: at least that long, at most six hours', () => {
    assert.equal(poll({ outcome: { kind: 'error', retryAfterMs: 30 * MIN }, consecutiveFailures: 1 }).delayMs, 30 * MIN);
    // A short Retry-After does not shorten the backoff.
    const plain = poll({ outcome: { kind: 'error' }, consecutiveFailures: 3 }).delayMs;
    assert.equal(poll({ outcome: { kind: 'error', retryAfterMs: 1000 }, consecutiveFailures: 3 }).delayMs, plain);
    assert.equal(poll({ outcome: { kind: 'error', retryAfterMs: 30 * 24 * 60 * MIN }, consecutiveFailures: 1 }).delayMs, RETRY_AFTER_CAP_MS);
  });

  it('returns to the plain interval after a success', () => {
    assert.deepEqual(poll({ outcome: { kind: 'ok' }, consecutiveFailures: 0 }), poll({}));
  });

  it('refuses an interval that is not a positive number', () => {
    for (const intervalMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => poll({ intervalMs }), RangeError);
  });

  it('reads a lookup error: the registry Retry-After is kept, other errors back off plainly', () => {
    assert.deepEqual(pollOutcome(), { kind: 'ok' });
    const limited = new RegistryError('upstream_failed', 502, 'registry r answered HTTP 429 for r/app:main', undefined, { status: 429, retryAfterMs: 120_000 });
    assert.deepEqual(pollOutcome(limited), { kind: 'error', retryAfterMs: 120_000 });
    assert.deepEqual(pollOutcome(new UpstreamError('boom')), { kind: 'error', retryAfterMs: undefined });
  });
});
