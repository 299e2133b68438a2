// The agent's cron scheduler on a fake clock and a fake runner, over a real
// store: slots, concurrency, the running cap, failures (audit, notify,
// retries), catch-up after downtime, new releases, pause, removal, shutdown.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { cronStatus } from '../../../agent/cron/status.js';
import { openStore, type Store } from '../../../agent/store/index.js';
import { cronHarness, failed, FakeClock, NOTIFY_URL, releaseWithJobs, settle, type CronHarness, type JobInput } from '../../support/cron-fakes.js';
import { waitFor } from '../../support/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-cron-sched-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
/** 12:30:00.250 UTC: between hourly slots, a quarter second past a second slot. */
const T0 = Date.parse('2026-06-01T12:30:00.250Z');
const REF = { service: 'demo', destination: '' };

let open: Array<{ store: Store; h: CronHarness }> = [];
afterEach(async () => {
  for (const { store, h } of open) {
    await h.scheduler.stop();
    store.close();
  }
  open = [];
});

function setup(jobs: Record<string, JobInput>, opts: { notify?: boolean; maxRunning?: number; startAt?: number } = {}) {
  const clock = new FakeClock(opts.startAt ?? T0);
  const store = openStore(join(dir, `db-${n++}.sqlite`), { now: () => clock.now() });
  releaseWithJobs(store, jobs, { notify: opts.notify ?? false, nowMs: clock.now() });
  const h = cronHarness(store, clock, opts.maxRunning !== undefined ? { maxRunning: opts.maxRunning } : {});
  open.push({ store, h });
  return { store, clock, h, runs: (job: string) => store.cron.runs({ ...REF, job }, 200).reverse() };
}

const audits = (store: Store, action: string) => store.audit.list({ service: 'demo', limit: 1000 }).filter((a) => a.action === action);
const status = (store: Store, h: CronHarness, job: string) => cronStatus(store, h.scheduler.entries(REF), REF, h.clock.now()).jobs.find((j) => j.name === job);

describe('cron scheduler: slots and concurrency', () => {
  it('a 6-field every-second job runs once per slot', async () => {
    const { h, runs } = setup({ tick: { schedule: '* * * * * *', concurrency: 'allow' } });
    await h.scheduler.start();
    for (let i = 0; i < 10; i++) await h.clock.advance(100);
    assert.equal(runs('tick').length, 1);
    await h.clock.advance(2 * SEC);
    const all = runs('tick');
    assert.equal(all.length, 3);
    assert.deepEqual(all.map((r) => r.scheduled_at), ['2026-06-01T12:30:01.000Z', '2026-06-01T12:30:02.000Z', '2026-06-01T12:30:03.000Z']);
    assert.ok(all.every((r) => r.trigger === 'schedule' && r.attempt === 1 && r.outcome === 'running'));
  });

  it('forbid: a slot that comes while the job runs is recorded as skipped, naming the running run', async () => {
    const { h, runs } = setup({ tick: { schedule: '* * * * * *' } });
    await h.scheduler.start();
    await h.clock.advance(SEC);
    const first = runs('tick')[0];
    await h.clock.advance(SEC);
    const [, skipped] = runs('tick');
    assert.equal(skipped?.outcome, 'skipped');
    assert.equal(skipped?.reason, `run #${first?.id} is still running (concurrency: forbid)`);
    assert.equal(h.runner.runs.length, 1);
    h.runner.runs[0]?.finish();
    await h.clock.advance(SEC);
    assert.deepEqual(runs('tick').map((r) => r.outcome), ['succeeded', 'skipped', 'running']);
  });

  it('replace: the running run is stopped and recorded replaced, and a new one starts', async () => {
    const { h, runs } = setup({ tick: { schedule: '* * * * * *', concurrency: 'replace' } });
    await h.scheduler.start();
    await h.clock.advance(SEC);
    await h.clock.advance(SEC);
    assert.equal(h.runner.runs[0]?.stoppedWith?.outcome, 'replaced');
    const [old, fresh] = runs('tick');
    assert.equal(old?.outcome, 'replaced');
    assert.match(old?.reason ?? '', /replaced/);
    assert.equal(fresh?.outcome, 'running');
    assert.equal(h.runner.live().length, 1);
  });

  it('allow: both run', async () => {
    const { h, runs } = setup({ tick: { schedule: '* * * * * *', concurrency: 'allow' } });
    await h.scheduler.start();
    await h.clock.advance(2 * SEC);
    assert.deepEqual(runs('tick').map((r) => r.outcome), ['running', 'running']);
    assert.equal(h.scheduler.runningCount(), 2);
  });

  it('the agent-wide cap skips a run with the reason', async () => {
    const { h, runs } = setup({ a: { schedule: '* * * * * *', concurrency: 'allow' }, b: { schedule: '* * * * * *', concurrency: 'allow' } }, { maxRunning: 1 });
    await h.scheduler.start();
    await h.clock.advance(SEC);
    const outcomes = [...runs('a'), ...runs('b')].map((r) => r.outcome).sort();
    assert.deepEqual(outcomes, ['running', 'skipped']);
    const skipped = [...runs('a'), ...runs('b')].find((r) => r.outcome === 'skipped');
    assert.match(skipped?.reason ?? '', /already runs 1 cron jobs at once \(berth-agent run --cron-max-running\)/);
  });
});

describe('cron scheduler: failures', () => {
  it('a failed run gets an audit row and a notification, and the run says it was sent', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' } }, { notify: true });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    h.runner.runs[0]?.finish(failed(3, 'line\nboom\n'));
    await waitFor('the notify outcome', () => runs('tick')[0]?.notify ?? undefined);
    const [run] = runs('tick');
    assert.equal(run?.outcome, 'failed');
    assert.equal(run?.notify, 'sent');
    const [row] = audits(store, 'cron.failed');
    assert.deepEqual(row?.detail, { job: 'tick', run: run?.id, trigger: 'schedule', attempt: 1, outcome: 'failed', exit_code: 3, reason: 'exited with code 3', release: run?.release });
    assert.equal(h.notifier.calls.length, 1);
    const { target, event } = h.notifier.calls[0]!;
    assert.equal(target.url, NOTIFY_URL);
    assert.equal(target.secret, undefined);
    assert.equal(event.event, 'cron.failed');
    assert.equal(event.job, 'tick');
    assert.equal(event.host, 'test-host');
    assert.equal(event.exit_code, 3);
    assert.equal(event.output_tail, 'line\nboom\n');
    assert.equal(event.run, run?.id);
  });

  it('a notifier that fails is recorded on the run and audited', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' } }, { notify: true });
    h.notifier.answer = 'failed: HTTP 500';
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    h.runner.runs[0]?.finish(failed());
    await waitFor('the notify outcome', () => runs('tick')[0]?.notify ?? undefined);
    assert.equal(runs('tick')[0]?.notify, 'failed: HTTP 500');
    const [row] = audits(store, 'cron.notify_failed');
    assert.deepEqual(row?.detail, { job: 'tick', run: runs('tick')[0]?.id, error: 'HTTP 500' });
  });

  it('no notification for a success, nor without a notify hook', async () => {
    const { h, runs } = setup({ tick: { schedule: '@hourly' } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    h.runner.runs[0]?.finish(failed());
    await settle();
    assert.equal(runs('tick')[0]?.outcome, 'failed');
    assert.equal(runs('tick')[0]?.notify, null);
    assert.equal(h.notifier.calls.length, 0);
  });

  it('retries a failed run after the backoff, doubling, up to the retries', async () => {
    const { h, runs } = setup({ tick: { schedule: '@hourly', retries: 2, retry_backoff: 10 } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    h.runner.runs[0]?.finish(failed());
    await settle();
    await h.clock.advance(10 * SEC - 1);
    assert.equal(h.runner.runs.length, 1);
    await h.clock.advance(1);
    assert.equal(h.runner.runs.length, 2);
    h.runner.runs[1]?.finish(failed());
    await settle();
    await h.clock.advance(20 * SEC - 1);
    assert.equal(h.runner.runs.length, 2);
    await h.clock.advance(1);
    assert.equal(h.runner.runs.length, 3);
    h.runner.runs[2]?.finish(failed());
    await settle();
    await h.clock.advance(20 * MIN);
    assert.equal(h.runner.runs.length, 3, 'no attempt beyond retries + 1');
    const all = runs('tick');
    assert.deepEqual(all.map((r) => [r.trigger, r.attempt, r.outcome]), [['schedule', 1, 'failed'], ['retry', 2, 'failed'], ['retry', 3, 'failed']]);
    assert.ok(all.every((r) => r.scheduled_at === '2026-06-01T13:00:00.000Z'), 'a retry keeps the slot it retries');
  });

  it('no retry after a success, nor for a manual run', async () => {
    const { h, runs } = setup({ tick: { schedule: '@hourly', retries: 3, retry_backoff: 10 } });
    await h.scheduler.start();
    await h.clock.advance(30 * MIN);
    h.runner.runs[0]?.finish(failed());
    await settle();
    await h.clock.advance(10 * SEC);
    h.runner.runs[1]?.finish();
    await settle();
    await h.clock.advance(10 * MIN);
    assert.deepEqual(runs('tick').map((r) => [r.trigger, r.outcome]), [['schedule', 'failed'], ['retry', 'succeeded']]);

    const manual = h.scheduler.runNow({ ...REF, job: 'tick' }, () => undefined);
    h.runner.runs[2]?.finish(failed());
    assert.equal((await manual).outcome, 'failed');
    await h.clock.advance(10 * MIN);
    assert.equal(h.runner.runs.length, 3);
    assert.deepEqual(runs('tick').map((r) => r.trigger), ['schedule', 'retry', 'manual']);
  });
});

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
    open.push({ store, h: again });
    await again.scheduler.start();
    await settle();
    assert.deepEqual(runs('tick'), [], 'the hourly slots before 12:30 were never scheduled');
    await h.clock.advance(20 * MIN);
    assert.deepEqual(runs('tick').map((r) => [r.trigger, r.scheduled_at]), [['schedule', '2026-06-01T13:00:00.000Z']]);
  });

  it('schedules and catches up even when the leftover containers cannot be listed', async () => {
    const clock = new FakeClock(T0);
    const store = openStore(join(dir, `db-${n++}.sqlite`), { now: () => clock.now() });
    releaseWithJobs(store, { tick: { schedule: '*/5 * * * *' } }, { nowMs: clock.now() });
    store.cron.ensureState({ ...REF, job: 'tick' });
    store.cron.setLastSlot({ ...REF, job: 'tick' }, Date.parse('2026-06-01T09:00:00Z'));
    const h = cronHarness(store, clock, { docker: { listContainers: async () => Promise.reject(new Error('docker is down')), remove: async () => undefined } });
    open.push({ store, h });
    await h.scheduler.start();
    await settle();
    assert.deepEqual(store.cron.runs({ ...REF, job: 'tick' }, 10).map((r) => r.trigger), ['catch-up']);
    assert.equal(status(store, h, 'tick')?.next_run, '2026-06-01T12:35:00.000Z');
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
    assert.equal(status(store, h, 'tick')?.next_run, '2026-06-01T13:00:00.000Z');
    assert.equal(status(store, h, 'tick')?.timeout, 5);
    await h.clock.advance(15 * MIN);
    assert.equal(runs('tick').length, 1);
    assert.equal(runs('tick')[0]?.release, 'v-next', 'the slot runs the current release');
  });

  it('a changed schedule re-arms; a job left out of the release is unscheduled and forgotten', async () => {
    const { store, h, runs } = setup({ tick: { schedule: '@hourly' }, gone: { schedule: '@hourly' } });
    await h.scheduler.start();
    releaseWithJobs(store, { tick: { schedule: '0 */2 * * *' } }, { nowMs: h.clock.now() });
    h.scheduler.refresh();
    assert.equal(status(store, h, 'tick')?.next_run, '2026-06-01T14:00:00.000Z');
    assert.equal(status(store, h, 'gone'), undefined);
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
    assert.equal(status(store, h, 'tick')?.paused, true);
    assert.equal(status(store, h, 'tick')?.next_run, null);
    await h.clock.advance(2 * HOUR);
    assert.equal(runs('tick').length, 0);
    assert.equal(runs('other').length, 2 - 1 + 1, 'the other job ran each slot (the second skipped under forbid)');
    h.scheduler.setPaused({ ...REF, job: 'tick' }, false, 'kid');
    await settle();
    assert.equal(runs('tick').length, 0, 'no catch-up for the slots missed while paused');
    assert.equal(status(store, h, 'tick')?.next_run, '2026-06-01T15:00:00.000Z');
    await h.clock.advance(30 * MIN);
    assert.equal(runs('tick').length, 1);
    assert.deepEqual(audits(store, 'cron.pause').map((a) => a.detail), [{ job: 'tick' }]);
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
  it('overdue without a success within twice the longest gap; not once it succeeds; never while paused', async () => {
    const { store, h } = setup({ tick: { schedule: '@hourly', concurrency: 'allow' } });
    await h.scheduler.start();
    await h.clock.advance(2 * HOUR);
    assert.equal(status(store, h, 'tick')?.overdue, false, 'two hours since it was first scheduled: not yet');
    await h.clock.advance(HOUR);
    assert.equal(status(store, h, 'tick')?.overdue, true);
    assert.equal(status(store, h, 'tick')?.running, 3);
    h.runner.runs[2]?.finish();
    await settle();
    const s = status(store, h, 'tick');
    assert.equal(s?.overdue, false);
    assert.equal(s?.last_success_at, new Date(h.clock.now()).toISOString());
    await h.clock.advance(2 * HOUR + 1);
    assert.equal(status(store, h, 'tick')?.overdue, true);
    h.scheduler.setPaused({ ...REF, job: 'tick' }, true, 'kid');
    assert.equal(status(store, h, 'tick')?.overdue, false);
  });
});
