// The agent's cron scheduler over time: catch-up after downtime, new
// releases, pause, removal, shutdown, and the overdue flag (fake clock and
// runner, real store).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronStatus } from '../../../agent/cron/status.js';
import type { Store } from '../../../agent/store/index.js';
import { auditsOf, cronHarness, FakeClock, HOUR, jobStatus, MIN, REF, releaseWithJobs, schedulerBed, settle, T0 } from '../../support/cron-fakes.js';

const bed = schedulerBed();
const { setup } = bed;

describe('cron scheduler: catch-up after downtime', () => {
  function stored(store: Store, job: string, lastSlot: number): void {
    store.cron.ensureState({ ...REF, job });
    store.cron.setLastSlot({ ...REF, job }, lastSlot);
  }

  it('a job whose slots passed while the agent was down runs exactly once, as a catch-up', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '*/5 * * * *', concurrency: 'allow' } });
    stored(store, 'tick', Date.parse('2026-06-01T09:00:00Z'));
    await h.scheduler.start();
    await settle();
    const [run] = runs('tick');
    assert.equal(runs('tick').length, 1);
    assert.equal(run?.trigger, 'catch-up');
    assert.equal(run?.scheduled_at, '2026-06-01T09:05:00.000Z');
    await h.clock.advance(4 * MIN);
    assert.equal(runs('tick').length, 1, 'nothing more until the next slot');
    await h.clock.advance(MIN);
    assert.deepEqual(runs('tick').map((r) => r.trigger), ['catch-up', 'schedule']);
  });

  it('a schedule changed by a release is no missed run after a restart', async () => {
    // @daily last ran at midnight; at 12:30 a release makes it hourly; the agent restarts at 12:40.
    const { store, h, runs } = setup({ tick: { schedule: '@daily' } });
    stored(store, 'tick', Date.parse('2026-06-01T00:00:00Z'));
    await h.scheduler.start();
    releaseWithJobs(store, { tick: { schedule: '@hourly' } }, { nowMs: h.clock.now() });
    h.scheduler.refresh();
    await h.clock.advance(10 * MIN);
    await h.scheduler.stop();
    const again = cronHarness(store, h.clock);
    bed.track(store, again);
    await again.scheduler.start();
    await settle();
    assert.deepEqual(runs('tick'), [], 'the hourly slots before 12:30 were never scheduled');
    await h.clock.advance(20 * MIN);
    assert.deepEqual(runs('tick').map((r) => [r.trigger, r.scheduled_at]), [['schedule', '2026-06-01T13:00:00.000Z']]);
  });

  it('schedules and catches up even when the leftover containers cannot be listed', async () => {
    const clock = new FakeClock(T0);
    const store = bed.store(clock);
    releaseWithJobs(store, { tick: { schedule: '*/5 * * * *' } }, { nowMs: clock.now() });
    store.cron.ensureState({ ...REF, job: 'tick' });
    store.cron.setLastSlot({ ...REF, job: 'tick' }, Date.parse('2026-06-01T09:00:00Z'));
    const h = cronHarness(store, clock, { docker: { listContainers: async () => Promise.reject(new Error('docker is down')), remove: async () => undefined } });
    bed.track(store, h);
    await h.scheduler.start();
    await settle();
    assert.deepEqual(store.cron.runs({ ...REF, job: 'tick' }, 10).map((r) => r.trigger), ['catch-up']);
    assert.equal(jobStatus(store, h, 'tick')?.next_run, '2026-06-01T12:35:00.000Z');
  });

  it('no catch-up when the next slot has not come, for a job never scheduled here, or while paused', async () => {
    const { store, h, runs } = setup({ a: { schedule: '@hourly' }, b: { schedule: '@hourly' }, c: { schedule: '@hourly' } });
    stored(store, 'a', Date.parse('2026-06-01T12:00:00Z'));
    stored(store, 'c', Date.parse('2026-06-01T03:00:00Z'));
    h.scheduler.setPaused({ ...REF, job: 'c' }, true, 'k');
    await h.scheduler.start();
    await settle();
    assert.deepEqual([...runs('a'), ...runs('b'), ...runs('c')], []);
  });
});

describe('cron scheduler: releases, pause, removal, shutdown', () => {
  it('a new release with the same schedule keeps the timer: the slot runs once', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' } });
    await h.scheduler.start();
    await h.clock.advance(15 * MIN);
    releaseWithJobs(store, { tick: { schedule: '@hourly', timeout: 5 } }, { version: 'v-next', nowMs: h.clock.now() });
    h.scheduler.refresh();
    assert.equal(jobStatus(store, h, 'tick')?.next_run, '2026-06-01T13:00:00.000Z');
    assert.equal(jobStatus(store, h, 'tick')?.timeout, 5);
    await h.clock.advance(15 * MIN);
    assert.equal(runs('tick').length, 1);
    assert.equal(runs('tick')[0]?.release, 'v-next', 'the slot runs the current release');
  });

  it('a changed schedule re-arms; a job left out of the release is unscheduled and forgotten', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' }, gone: { schedule: '@hourly' } });
    await h.scheduler.start();
    releaseWithJobs(store, { tick: { schedule: '0 */2 * * *' } }, { nowMs: h.clock.now() });
    h.scheduler.refresh();
    assert.equal(jobStatus(store, h, 'tick')?.next_run, '2026-06-01T14:00:00.000Z');
    assert.equal(jobStatus(store, h, 'gone'), undefined);
    assert.equal(store.cron.state({ ...REF, job: 'gone' }), undefined);
    await h.clock.advance(HOUR);
    assert.equal(runs('tick').length + runs('gone').length, 0);
    await h.clock.advance(HOUR);
    assert.equal(runs('tick').length, 1);
    assert.equal(runs('gone').length, 0);
  });

  it('a run of a job a release removed still counts against the cap and is interrupted by stop()', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' }, other: { schedule: '@hourly' } }, { maxRunning: 1 });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    const ran = runs('tick').length === 1 ? 'tick' : 'other';
    releaseWithJobs(store, { fresh: { schedule: '@hourly' } }, { nowMs: h.clock.now() });
    h.scheduler.refresh();
    assert.equal(h.scheduler.runningCount(), 1);
    await h.clock.advance(HOUR);
    assert.deepEqual(runs('fresh').map((r) => r.outcome), ['skipped'], 'the cap still counts the removed job\'s run');
    await h.scheduler.stop();
    assert.equal(runs(ran)[0]?.outcome, 'interrupted');
  });

  it('removing the service also stops a run of a job an earlier release dropped', async () => {
    const { store, h } = setup({ tick: { schedule: '@hourly' } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    releaseWithJobs(store, {}, { nowMs: h.clock.now() });
    h.scheduler.refresh();
    await h.scheduler.serviceRemoved(REF);
    assert.equal(h.runner.runs[0]?.stoppedWith?.outcome, 'stopped');
    assert.equal(h.scheduler.runningCount(), 0);
  });

  it('pausing a job stops it (no next run); resuming re-arms without a catch-up', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' }, other: { schedule: '@hourly' } });
    await h.scheduler.start();
    h.scheduler.setPaused({ ...REF, job: 'tick' }, true, 'kid');
    assert.equal(jobStatus(store, h, 'tick')?.paused, true);
    assert.equal(jobStatus(store, h, 'tick')?.next_run, null);
    await h.clock.advance(2 * HOUR);
    assert.equal(runs('tick').length, 0);
    assert.equal(runs('other').length, 2 - 1 + 1, 'the other job ran each slot (the second skipped under forbid)');
    h.scheduler.setPaused({ ...REF, job: 'tick' }, false, 'kid');
    await settle();
    assert.equal(runs('tick').length, 0, 'no catch-up for the slots missed while paused');
    assert.equal(jobStatus(store, h, 'tick')?.next_run, '2026-06-01T15:00:00.000Z');
    await h.clock.advance(30 * MIN);
    assert.equal(runs('tick').length, 1);
    assert.deepEqual(auditsOf(store, 'cron.pause').map((a) => a.detail), [{ job: 'tick' }]);
  });

  it('pausing the whole service stops every job; resuming it re-arms them', async () => {
    const { store, h, runs } = setup({ a: { schedule: '@hourly' }, b: { schedule: '@hourly' } });
    await h.scheduler.start();
    h.scheduler.setPaused(REF, true, 'kid');
    const s = cronStatus(store, h.scheduler.entries(REF), REF, h.clock.now());
    assert.equal(s.paused, true);
    assert.deepEqual(s.jobs.map((j) => [j.paused, j.next_run]), [[true, null], [true, null]]);
    await h.clock.advance(3 * HOUR);
    assert.equal(runs('a').length + runs('b').length, 0);
    h.scheduler.setPaused(REF, false, 'kid');
    await settle();
    assert.equal(runs('a').length + runs('b').length, 0);
    await h.clock.advance(HOUR);
    assert.equal(runs('a').length + runs('b').length, 2);
  });

  it('a removed service: running runs stopped, timers gone, rows dropped', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    assert.equal(h.runner.live().length, 1);
    await h.scheduler.serviceRemoved(REF);
    assert.equal(h.runner.runs[0]?.stoppedWith?.outcome, 'stopped');
    assert.deepEqual(runs('tick'), []);
    assert.equal(store.cron.state({ ...REF, job: 'tick' }), undefined);
    assert.deepEqual(h.scheduler.entries(REF), []);
    await h.clock.advance(2 * HOUR);
    assert.equal(h.runner.runs.length, 1);
  });

  it('stop() ends running runs as interrupted and fires nothing after', async () => {
    const { h, runs } = setup({ tick: { schedule: '@hourly', retries: 3 } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    await h.scheduler.stop();
    assert.equal(runs('tick')[0]?.outcome, 'interrupted');
    await h.clock.advance(2 * HOUR);
    assert.equal(h.runner.runs.length, 1, 'no retry of an interrupted run, no slot after stop');
  });
});

describe('cron status', () => {
  it('overdue once two slots passed without a success and the second run had its timeout; not once it succeeds; never while paused', async () => {
    // T0 is 12:30:00.250; @hourly with a 1 s timeout.
    const { store, h } = setup({ tick: { schedule: '@hourly', concurrency: 'allow' } });
    await h.scheduler.start();
    await h.clock.advance(HOUR);
    assert.equal(jobStatus(store, h, 'tick')?.overdue, false, 'one slot (13:00) since it was first scheduled: not yet');
    await h.clock.advance(HOUR);
    assert.equal(jobStatus(store, h, 'tick')?.overdue, true, '13:00 and 14:00 passed, the 14:00 run had its second');
    assert.equal(jobStatus(store, h, 'tick')?.running, 2);
    h.runner.runs[1]?.finish();
    await settle();
    const s = jobStatus(store, h, 'tick');
    assert.equal(s?.overdue, false);
    assert.equal(s?.last_success_at, new Date(h.clock.now()).toISOString());
    await h.clock.advance(HOUR + 30 * 60_000);
    assert.equal(jobStatus(store, h, 'tick')?.overdue, false, 'at 16:00:00.250 the 16:00 run still has its timeout');
    await h.clock.advance(1_000);
    assert.equal(jobStatus(store, h, 'tick')?.overdue, true);
    h.scheduler.setPaused({ ...REF, job: 'tick' }, true, 'kid');
    assert.equal(jobStatus(store, h, 'tick')?.overdue, false);
  });
});
