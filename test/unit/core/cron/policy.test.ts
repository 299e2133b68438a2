import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCronPolicy, DEFAULT_CRON_POLICY } from '../../../../agent/core/cron/policy.js';
import { UserError } from '../../../../shared/errors.js';
import { parseManifestPayload, type ManifestPayload } from '../../../../shared/manifest.js';
import { minimalManifest } from '../../../support/manifest-fixture.js';


function withJobs(jobs: Record<string, string>): ManifestPayload {
  return parseManifestPayload(
    minimalManifest({ cron: Object.fromEntries(Object.entries(jobs).map(([n, schedule]) => [n, { schedule, command: ['x'], role: 'web', timeout: 1 }])) }),
  );
}

function refusedBy(fn: () => void, message: RegExp, hint: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.code, 'cron_refused');
    assert.equal(e.status, 400);
    assert.match(e.message, message);
    assert.match(e.hint ?? '', hint);
    return true;
  });
}

describe('cron policy', () => {
  it('lets through what the default policy allows, and a release without jobs always', () => {
    checkCronPolicy(withJobs({ a: '* * * * * *', b: '@daily' }), DEFAULT_CRON_POLICY, 0);
    checkCronPolicy(withJobs({}), { ...DEFAULT_CRON_POLICY, maxJobs: 0 }, 100);
  });

  it('refuses a job more frequent than --cron-min-interval, naming cron.JOB.schedule', () => {
    const policy = { ...DEFAULT_CRON_POLICY, minIntervalS: 60 };
    checkCronPolicy(withJobs({ ok: '* * * * *' }), policy, 0);
    refusedBy(() => checkCronPolicy(withJobs({ ok: '@hourly', fast: '*/30 * * * * *' }), policy, 0), /^cron\.fast\.schedule: "\*\/30 \* \* \* \* \*" runs every 30s; this agent runs a job at most once every 1m/, /--cron-min-interval/);
  });

  it('counts the jobs of other services against --cron-max-jobs', () => {
    const policy = { ...DEFAULT_CRON_POLICY, maxJobs: 3 };
    checkCronPolicy(withJobs({ a: '@daily', b: '@daily' }), policy, 1);
    refusedBy(() => checkCronPolicy(withJobs({ a: '@daily', b: '@daily' }), policy, 2), /2 jobs for this service and 2 of other services exceed the 3/, /--cron-max-jobs/);
  });
});
