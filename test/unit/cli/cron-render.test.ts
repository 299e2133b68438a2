// What deploy cron list / history / pause print, as data: a failed last run
// and an overdue job stand out, a server without jobs says so, the time zone
// shows when not UTC; the exit code a run's outcome gives; JOB and -n checks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cronDuration, renderCronHistory, renderCronList, renderCronPaused } from '../../../cli/actions/cron-render.js';
import { cronRunExitCode, cronRunFailureLine } from '../../../cli/actions/cron-run.js';
import { checkJobName, knownJobs, runCount } from '../../../cli/actions/cron.js';
import { createStyle, plainStyle } from '../../../cli/output/style.js';
import { isBerthError } from '../../../shared/errors.js';
import { cronJob, cronRun, cronSummary } from '../../support/cron-fixtures.js';

const FAILED = cronSummary({ outcome: 'failed', exit_code: 3, duration_ms: 850, reason: 'exit code 3' });

describe('renderCronList', () => {
  it('one row per server and job: schedule (+ zone), next run, last run, result, duration, flags', () => {
    const text = renderCronList([
      { host: 'a:7321', cron: { release: 'v2', paused: false, jobs: [
        cronJob({ last_run: FAILED, overdue: true }),
        cronJob({ name: 'report', schedule: '*/5 * * * *', timezone: 'Europe/Berlin', last_run: cronSummary({ duration_ms: 125_000 }), paused: true, next_run: null, running: 1 }),
        cronJob({ name: 'fresh', last_run: null, last_success_at: null }),
      ] } },
      { host: 'b:7321', cron: { release: 'v2', paused: false, jobs: [] } },
      { host: 'c:7321', cron: null },
      { host: 'd:7321', cron: null, error: 'd:7321 is not answering' },
    ], plainStyle);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +JOB +SCHEDULE +NEXT RUN +LAST RUN +LAST RESULT +DURATION +FLAGS$/);
    assert.match(lines[1]!, /^a:7321 +nightly +0 3 \* \* \* +2026-11-23 03:00:00 +2026-11-22 03:00:00 +FAILED \(exit 3\) +850ms +OVERDUE$/);
    assert.match(lines[2]!, /^a:7321 +report +\*\/5 \* \* \* \* \(Europe\/Berlin\) +- +2026-11-22 03:00:00 +succeeded \(exit 0\) +2m05s +paused, running$/);
    assert.match(lines[3]!, /^a:7321 +fresh +0 3 \* \* \* +2026-11-23 03:00:00 +- +never run +- +-$/);
    assert.match(lines[4]!, /^b:7321 +(- +){6}no cron jobs$/);
    assert.match(lines[5]!, /^c:7321 +(- +){6}no current release$/);
    assert.match(lines[6]!, /^d:7321 +(- +){6}error: d:7321 is not answering$/);
    assert.equal(lines.length, 7);
  });

  it('colours a failure and OVERDUE red on a colour terminal', () => {
    const text = renderCronList([{ host: 'a', cron: { release: 'v2', paused: false, jobs: [cronJob({ last_run: FAILED, overdue: true })] } }], createStyle(true));
    assert.ok(text.includes('\x1b[31mFAILED (exit 3)\x1b[39m'));
    assert.ok(text.includes('\x1b[31mOVERDUE\x1b[39m'));
  });

  it('every failing outcome is in capitals; server text is sanitized', () => {
    for (const outcome of ['timed_out', 'start_failed', 'interrupted'] as const) {
      const text = renderCronList([{ host: 'a', cron: { release: 'v2', paused: false, jobs: [cronJob({ last_run: cronSummary({ outcome, exit_code: null }) })] } }], plainStyle);
      assert.match(text, new RegExp(` ${outcome.toUpperCase()} `), outcome);
    }
    const text = renderCronList([{ host: 'a', cron: { release: 'v2', paused: false, jobs: [cronJob({ name: 'x\x1b[2Jy' })] } }], plainStyle);
    assert.ok(!text.includes('\x1b'));
  });
});

describe('renderCronHistory', () => {
  const runs = [
    cronRun({ id: 3, trigger: 'retry', attempt: 2, outcome: 'timed_out', exit_code: 137, duration_ms: 60_000, reason: 'killed after 60s', output: 'working\nstill working\n', output_truncated: true }),
    cronRun({ id: 2, trigger: 'manual', scheduled_at: null, started_at: '2026-11-21T09:15:00.000Z', release: 'v1', output: '' }),
  ];

  it('newest first per server: started, trigger, outcome, exit code, duration, release, reason; compact by default', () => {
    const text = renderCronHistory('nightly', [{ host: 'a', runs }, { host: 'b', runs: [] }, { host: 'c', runs: null }], plainStyle, false);
    const lines = text.trimEnd().split('\n');
    assert.match(lines[0]!, /^HOST +STARTED +TRIGGER +OUTCOME +EXIT +DURATION +RELEASE +REASON$/);
    assert.match(lines[1]!, /^a +2026-11-22 03:00:00 +retry #2 +TIMED_OUT +137 +1m00s +v2 +killed after 60s$/);
    assert.match(lines[2]!, /^a +2026-11-21 09:15:00 +manual +succeeded +0 +4\.2s +v1 +-$/);
    assert.match(lines[3]!, /^b +(- +){6}no runs yet$/);
    assert.match(lines[4]!, /^c +(- +){6}no job nightly here$/);
    assert.ok(!text.includes('still working'));
  });

  it('--output puts each run\'s output tail under its row', () => {
    const lines = renderCronHistory('nightly', [{ host: 'a', runs }], plainStyle, true).trimEnd().split('\n');
    assert.deepEqual(lines.slice(2, 5), ['    | … (earlier output not kept)', '    | working', '    | still working']);
    assert.match(lines[5]!, /^a +2026-11-21 09:15:00 +manual/);
    assert.equal(lines[6], '    (no output)');
  });
});

describe('renderCronPaused', () => {
  it('what is paused on each server now', () => {
    const text = renderCronPaused([
      { host: 'a', cron: { release: 'v2', paused: true, jobs: [cronJob({ paused: true })] } },
      { host: 'b', cron: { release: 'v2', paused: false, jobs: [cronJob({ paused: true }), cronJob({ name: 'report' })] } },
      { host: 'c', cron: { release: 'v2', paused: false, jobs: [cronJob()] } },
      { host: 'd', cron: null },
    ], plainStyle);
    assert.deepEqual(text.trimEnd().split('\n').map((l) => l.replace(/ +/g, ' ')), ['HOST PAUSED', 'a all jobs', 'b nightly', 'c nothing', 'd no current release']);
  });
});

describe('cron helpers', () => {
  it('durations', () => {
    assert.deepEqual([null, 0, 999, 4200, 59_949, 125_000, 7_620_000].map(cronDuration), ['-', '0ms', '999ms', '4.2s', '59.9s', '2m05s', '2h07m']);
  });

  it('a run\'s exit code: 0 on success, a failed run\'s own code, 1 for every other end', () => {
    assert.equal(cronRunExitCode({ outcome: 'succeeded', exit_code: 0 }), 0);
    assert.equal(cronRunExitCode({ outcome: 'failed', exit_code: 3 }), 3);
    assert.equal(cronRunExitCode({ outcome: 'failed', exit_code: null }), 1);
    for (const outcome of ['timed_out', 'start_failed', 'skipped', 'replaced', 'stopped', 'interrupted', 'running'] as const) {
      assert.equal(cronRunExitCode({ outcome, exit_code: outcome === 'timed_out' ? 137 : null }), 1, outcome);
    }
    assert.equal(cronRunFailureLine('a', 'nightly', { outcome: 'timed_out', exit_code: 137, reason: 'killed after 60s' }), 'a: nightly timed_out (exit 137): killed after 60s');
    assert.equal(cronRunFailureLine('a', 'nightly', { outcome: 'start_failed', exit_code: null, reason: '' }), 'a: nightly start_failed');
  });

  it('JOB must be a job name and -n 1..200, else a usage error', () => {
    assert.equal(checkJobName('db-backup_2'), 'db-backup_2');
    for (const bad of ['', 'Nightly', '-x', 'a/b', 'x'.repeat(64)]) {
      assert.throws(() => checkJobName(bad), (e: unknown) => isBerthError(e) && e.code === 'usage', bad);
    }
    assert.equal(runCount(undefined), 20);
    assert.equal(runCount('200'), 200);
    for (const bad of ['0', '201', 'x', '-1', '2.5']) assert.throws(() => runCount(bad), (e: unknown) => isBerthError(e) && e.code === 'usage', bad);
  });

  it('the known jobs of every server that answered, once each, sorted', () => {
    const ok = (host: string, names: string[]) => ({ host, ok: true as const, value: { release: 'v2', paused: false, jobs: names.map((name) => cronJob({ name })) } });
    assert.deepEqual(knownJobs([ok('a', ['report', 'nightly']), ok('b', ['report']), { host: 'c', ok: true, value: null }, { host: 'd', ok: false, error: 'x', cause: new Error('x') }]), ['nightly', 'report']);
  });
});
