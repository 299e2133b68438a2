// The bake window's decisions (agent/core/bake.ts): which checks, when a round
// of observations fails the release, and what is left of a window.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BAKE_FAILURES_TO_FAIL, bakeHttpChecks, bakeRemainingMs, bakeSeconds, judgeRound, openTally,
  type BakeRound, type BakeTally, type ContainerObservation, type ProbeObservation,
} from '../../../agent/core/bake.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { fullManifest } from '../../support/manifest-fixture.js';

const running = (role = 'web', restartCount = 0): ContainerObservation => ({ role, name: `demo-${role}-v2`, state: 'running', restartCount });
const probe = (ok: boolean, detail = ok ? 'HTTP 200' : 'HTTP 500'): ProbeObservation => ({ role: 'web', path: '/up', port: 80, ok, detail });
const round = (probes: ProbeObservation[], containers = [running()]): BakeRound => ({ containers, probes });

/** Feeds rounds in order; returns the first failure reason, or undefined. */
function play(rounds: BakeRound[], tally: BakeTally = openTally({ web: 0 })): string | undefined {
  for (const r of rounds) {
    const v = judgeRound(tally, r);
    if (v.failed) return v.reason;
    tally = v.tally;
  }
  return undefined;
}

describe('bake window: judging rounds', () => {
  it(`fails after ${BAKE_FAILURES_TO_FAIL} failed health probes in a row, naming the check and the last answer`, () => {
    assert.equal(play([round([probe(false)]), round([probe(false)])]), undefined);
    assert.equal(
      play([round([probe(false)]), round([probe(false, 'ECONNREFUSED')]), round([probe(false)])]),
      'web: health check GET /up on port 80 failed 3 times in a row (last: HTTP 500)',
    );
  });

  it('a passing probe resets the count: intermittent failures never fail the bake', () => {
    const flaky = Array.from({ length: 30 }, (_, i) => round([probe(i % 3 === 2)]));
    assert.equal(play(flaky), undefined);
    assert.equal(play([round([probe(false)]), round([probe(false)]), round([probe(true)]), round([probe(false)]), round([probe(false)])]), undefined);
  });

  it('counts each role on its own', () => {
    const api = (ok: boolean): ProbeObservation => ({ role: 'api', path: '/health', port: 3000, ok, detail: ok ? 'HTTP 200' : 'no answer within 5s' });
    const rounds = [round([probe(false), api(true)]), round([probe(true), api(false)]), round([probe(false), api(false)]), round([probe(true), api(false)])];
    assert.equal(play(rounds), 'api: health check GET /health on port 3000 failed 3 times in a row (last: no answer within 5s)');
  });

  it('a container that stopped, vanished or was restarted by Docker fails the bake at once', () => {
    assert.equal(
      play([round([], [{ role: 'worker', name: 'demo-worker-v2', state: 'stopped', exitCode: 137 }])]),
      'worker: container demo-worker-v2 stopped (exit code 137)',
    );
    assert.equal(play([round([], [{ role: 'worker', name: 'demo-worker-v2', state: 'stopped', exitCode: null }])]), 'worker: container demo-worker-v2 stopped (exit code unknown)');
    assert.equal(play([round([probe(true)], [{ role: 'web', name: 'demo-web-v2', state: 'gone' }])]), 'web: container demo-web-v2 was removed');
    assert.equal(play([round([probe(true)], [running('web', 0)]), round([probe(true)], [running('web', 1)])]), 'web: container demo-web-v2 exited and was restarted by Docker');
    // Restarts before the window opened are not this release's failure in the window.
    assert.equal(play([round([probe(true)], [running('web', 4)])], openTally({ web: 4 })), undefined);
  });

  it('does not mutate the tally it was given', () => {
    const tally = openTally({ web: 0 });
    judgeRound(tally, round([probe(false)]));
    assert.deepEqual(tally, { failures: {}, restarts: { web: 0 } });
  });
});

describe('bake window: checks and timing', () => {
  it('one HTTP check per proxied role, with the deploy health check path, port and timeout', () => {
    const m = parseManifestPayload(fullManifest());
    assert.deepEqual(bakeHttpChecks(m), [{ role: 'web', port: 3000, path: '/health', timeoutSeconds: 3 }]);
  });

  it('only a DONE deploy with bake set, and never a revert the agent made, gets a window', () => {
    assert.equal(bakeSeconds({ state: 'DONE', trigger: 'push' }, { bake: 15 }), 15);
    assert.equal(bakeSeconds({ state: 'DONE', trigger: 'rollback' }, { bake: 15 }), 15);
    assert.equal(bakeSeconds({ state: 'DONE', trigger: 'push' }, {}), undefined);
    assert.equal(bakeSeconds({ state: 'REVERTED', trigger: 'push' }, { bake: 15 }), undefined);
    assert.equal(bakeSeconds({ state: 'DONE', trigger: 'bake-revert' }, { bake: 15 }), undefined);
  });

  it('a window resumed after a restart gets only what is left of it', () => {
    const opened = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(bakeRemainingMs(opened, 15, opened + 4_000), 11_000);
    assert.equal(bakeRemainingMs(opened, 15, opened + 15_000), 0);
    assert.equal(bakeRemainingMs(opened, 15, opened + 99_000), 0);
    assert.equal(bakeRemainingMs(Number.NaN, 15, opened), 0);
  });
});

describe('bake window: a role with replicas', () => {
  const replica = (n: number, restartCount = 0): ContainerObservation => ({ role: 'web', replica: n, name: `demo-web-v2-g-${n}`, state: 'running', restartCount });
  const probeOf = (n: number, ok: boolean): ProbeObservation => ({ ...probe(ok), replica: n });

  it('counts each replica on its own: failures of one never add to another, and a restart of any fails the bake', () => {
    const tally = openTally({ web: 0, 'web/2': 0 });
    const both = [running(), replica(2)];
    // One replica failing and the other passing, in turn: no replica fails three times in a row.
    const alternating = [0, 1, 2, 3].map((i) => round([probe(i % 2 === 0), probeOf(2, i % 2 === 1)], both));
    assert.equal(play(alternating, tally), undefined);
    assert.equal(
      play([1, 2, 3].map(() => round([probe(true), probeOf(2, false)], both)), tally),
      'web/2: health check GET /up on port 80 failed 3 times in a row (last: HTTP 500)',
    );
    assert.equal(play([round([], [running(), replica(2, 1)])], tally), 'web: container demo-web-v2-g-2 exited and was restarted by Docker');
  });
});
