// Cron runs and per-job state on a real SQLite file: pruning, endings,
// interrupted runs after a restart, pause of a job and of the whole service.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAX_CRON_RUNS, WHOLE_SERVICE } from '../../../agent/store/cron-repo.js';
import { openStore, type Store } from '../../../agent/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-cron-repo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let clock = Date.parse('2026-01-01T00:00:00Z');

function fresh(): Store {
  return openStore(join(dir, `db-${n++}.sqlite`), { now: () => clock });
}

const REF = { service: 'demo', destination: '', job: 'tidy' };
const run = (over: Record<string, unknown> = {}) => ({
  ...REF, trigger: 'schedule' as const, attempt: 1, scheduledAt: clock, release: 'v1', image: 'reg/demo@sha256:aa', outcome: 'running' as const, ...over,
});
const end = { outcome: 'succeeded' as const, exitCode: 0, reason: '', output: 'ok\n', outputTruncated: false };
const audit = (action: string) => ({ keyId: 'agent', action, service: 'demo', destination: '' });

describe('store: cron runs', () => {
  it('records a run from start to end; a second ending does not overwrite the first', () => {
    const store = fresh();
    const r = store.cron.startRun(run());
    assert.equal(r.outcome, 'running');
    assert.equal(r.ended_at, null);
    assert.equal(r.scheduled_at, new Date(clock).toISOString());
    clock += 1500;
    const done = store.cron.finishRun(r.id, { ...end, audit: audit('cron.failed') });
    assert.equal(done?.outcome, 'succeeded');
    assert.equal(done?.duration_ms, 1500);
    assert.equal(done?.output, 'ok\n');
    assert.equal(store.audit.list({ service: 'demo', limit: 100 }).filter((a) => a.action === 'cron.failed').length, 1);
    const again = store.cron.finishRun(r.id, { ...end, outcome: 'failed', exitCode: 1, audit: audit('cron.failed') });
    assert.equal(again?.outcome, 'succeeded');
    assert.equal(store.audit.list({ service: 'demo', limit: 100 }).filter((a) => a.action === 'cron.failed').length, 1, 'no audit for an ending that did not apply');
    store.cron.setNotify(r.id, 'sent');
    assert.equal(store.cron.getRun(r.id)?.notify, 'sent');
    store.close();
  });

  it('a skipped run ends when it starts and carries its reason', () => {
    const store = fresh();
    const r = store.cron.startRun(run({ outcome: 'skipped', reason: 'run #1 is still running' }));
    assert.equal(r.outcome, 'skipped');
    assert.equal(r.ended_at, r.started_at);
    assert.equal(r.reason, 'run #1 is still running');
    store.close();
  });

  it(`keeps the last ${MAX_CRON_RUNS} runs of each job, newest first`, () => {
    const store = fresh();
    const other = store.cron.startRun(run({ job: 'other' }));
    const ids: number[] = [];
    for (let i = 0; i < MAX_CRON_RUNS + 5; i++) ids.push(store.cron.startRun(run()).id);
    const kept = store.cron.runs(REF, 1000);
    assert.equal(kept.length, MAX_CRON_RUNS);
    assert.deepEqual(kept.map((r) => r.id), ids.slice(5).reverse());
    assert.deepEqual(store.cron.runs(REF, 3).map((r) => r.id), ids.slice(-3).reverse());
    assert.equal(store.cron.runs({ ...REF, job: 'other' }, 10)[0]?.id, other.id, 'another job keeps its runs');
    store.close();
  });

  it('lastRuns: the newest run that is not a skip, and the newest success', () => {
    const store = fresh();
    assert.deepEqual(store.cron.lastRuns(REF), { last: undefined, lastSuccessAt: null });
    const ok = store.cron.startRun(run());
    clock += 1000;
    store.cron.finishRun(ok.id, end);
    const okEnd = clock;
    const bad = store.cron.startRun(run());
    clock += 1000;
    store.cron.finishRun(bad.id, { ...end, outcome: 'failed', exitCode: 3 });
    store.cron.startRun(run({ outcome: 'skipped', reason: 'busy' }));
    const { last, lastSuccessAt } = store.cron.lastRuns(REF);
    assert.equal(last?.id, bad.id);
    assert.equal(last?.exit_code, 3);
    assert.equal(lastSuccessAt, okEnd);
    store.close();
  });

  it('interruptRunning ends what a previous process left running, with an audit row each, after a reopen', () => {
    const file = join(dir, `db-${n++}.sqlite`);
    let store = openStore(file, { now: () => clock });
    const a = store.cron.startRun(run());
    const b = store.cron.startRun(run({ job: 'other' }));
    const done = store.cron.startRun(run());
    store.cron.finishRun(done.id, end);
    store.close();
    store = openStore(file, { now: () => clock });
    const interrupted = store.cron.interruptRunning('the agent stopped', (r) => ({ ...audit('cron.failed'), detail: { run: r.id, outcome: r.outcome } }));
    assert.deepEqual(interrupted.map((r) => [r.id, r.outcome, r.reason]).sort(), [[a.id, 'interrupted', 'the agent stopped'], [b.id, 'interrupted', 'the agent stopped']]);
    assert.ok(interrupted.every((r) => r.ended_at !== null));
    const rows = store.audit.list({ service: 'demo', limit: 100 }).filter((x) => x.action === 'cron.failed');
    assert.deepEqual(rows.map((x) => (x.detail as { run: number; outcome: string }).outcome), ['interrupted', 'interrupted']);
    assert.equal(store.cron.getRun(done.id)?.outcome, 'succeeded');
    assert.deepEqual(store.cron.interruptRunning('again', () => audit('x')), []);
    store.close();
  });
});

describe('store: cron state', () => {
  it('ensureState creates a row once; setLastSlot moves the slot', () => {
    const store = fresh();
    assert.equal(store.cron.state(REF), undefined);
    const s = store.cron.ensureState(REF);
    assert.deepEqual(s, { paused: false, lastSlot: null, since: clock });
    store.cron.setLastSlot(REF, 1234);
    clock += 10;
    assert.deepEqual(store.cron.ensureState(REF), { paused: false, lastSlot: 1234, since: s.since });
    store.close();
  });

  it('pauses a job, the whole service; resuming the service clears job pauses too; each audited', () => {
    const store = fresh();
    store.cron.ensureState(REF);
    store.cron.setLastSlot(REF, 99);
    store.cron.setPaused(REF, true, audit('cron.pause'));
    assert.equal(store.cron.state(REF)?.paused, true);
    assert.equal(store.cron.state(REF)?.lastSlot, 99, 'pausing keeps the slot');
    const whole = { ...REF, job: WHOLE_SERVICE };
    store.cron.setPaused(whole, true, audit('cron.pause'));
    assert.equal(store.cron.state(whole)?.paused, true);
    store.cron.setPaused({ ...REF, job: 'other', service: 'elsewhere' }, true, audit('cron.pause'));
    store.cron.setPaused(whole, false, audit('cron.resume'));
    assert.equal(store.cron.state(whole)?.paused, false);
    assert.equal(store.cron.state(REF)?.paused, false, 'resuming the service resumes its jobs');
    assert.equal(store.cron.state({ ...REF, job: 'other', service: 'elsewhere' })?.paused, true, 'another service stays paused');
    assert.deepEqual(store.audit.list({ service: 'demo', limit: 100 }).map((a) => a.action).sort(), ['cron.pause', 'cron.pause', 'cron.pause', 'cron.resume']);
    store.close();
  });

  it('forgetJobs drops the state of jobs not kept, never the service row; removeService drops all', () => {
    const store = fresh();
    for (const job of ['a', 'b', 'c']) store.cron.ensureState({ ...REF, job });
    store.cron.setPaused({ ...REF, job: WHOLE_SERVICE }, true, audit('cron.pause'));
    store.cron.ensureState({ service: 'other', destination: '', job: 'a' });
    store.cron.startRun(run({ job: 'a' }));
    store.cron.startRun(run({ service: 'other', job: 'a' }));
    store.cron.forgetJobs('demo', '', ['b']);
    assert.equal(store.cron.state({ ...REF, job: 'a' }), undefined);
    assert.ok(store.cron.state({ ...REF, job: 'b' }));
    assert.equal(store.cron.state({ ...REF, job: 'c' }), undefined);
    assert.equal(store.cron.state({ ...REF, job: WHOLE_SERVICE })?.paused, true);
    assert.ok(store.cron.state({ service: 'other', destination: '', job: 'a' }));
    store.cron.removeService('demo', '');
    assert.equal(store.cron.state({ ...REF, job: 'b' }), undefined);
    assert.equal(store.cron.state({ ...REF, job: WHOLE_SERVICE }), undefined);
    assert.deepEqual(store.cron.runs({ ...REF, job: 'a' }, 10), []);
    assert.equal(store.cron.runs({ service: 'other', destination: '', job: 'a' }, 10).length, 1);
    assert.ok(store.cron.state({ service: 'other', destination: '', job: 'a' }));
    store.close();
  });
});
