// The agent's cron scheduler on a fake clock and a fake runner, over a real
// store: slots, concurrency, the running cap, failures (audit, notify, retries).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auditsOf, failed, MIN, NOTIFY_URL, REF, schedulerBed, SEC, settle } from '../../support/cron-fakes.js';
import { waitFor } from '../../support/wait.js';

const { setup } = schedulerBed();

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
    const [row] = auditsOf(store, 'cron.failed');
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
    const [row] = auditsOf(store, 'cron.notify_failed');
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
