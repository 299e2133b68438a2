import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
const job = (over: Record<string, unknown> = {}) => ({ schedule: '*/5 * * * *', command: ['bin/job'], role: 'web', timeout: 60, ...over });

function refused(input: Record<string, unknown>, message: RegExp): void {
  assert.throws(
    () => parseManifestPayload(minimalManifest(input)),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
      assert.equal(e.status, 400);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('manifest cron jobs', () => {
  it('fills the defaults of a job', () => {
    const m = parseManifestPayload(minimalManifest({ cron: { tidy: job() } }));
    assert.deepEqual(m.cron?.tidy, { ...job(), timezone: 'UTC', concurrency: 'forbid', retries: 0, retry_backoff: 10, hosts: 'one' });
  });

  it('names the job of an unknown role', () => {
    refused({ cron: { tidy: job({ role: 'worker' }) } }, /cron\.tidy\.role: role "worker" is not in this release \(roles: web\)/);
  });

  it('refuses a bad time zone and a bad schedule at their paths', () => {
    refused({ cron: { tidy: job({ timezone: 'Mars/Olympus' }) } }, /cron\.tidy\.timezone: "Mars\/Olympus" is not an IANA time zone/);
    refused({ cron: { tidy: job({ schedule: '@reboot' }) } }, /cron\.tidy\.schedule: @reboot/);
    refused({ cron: { tidy: job({ schedule: '* * *' }) } }, /cron\.tidy\.schedule: .*3 fields/);
  });

  it('refuses a timeout longer than the shortest gap under forbid, not under allow or replace', () => {
    refused({ cron: { tidy: job({ timeout: 301 }) } }, /cron\.tidy\.timeout: 301s is longer than the 5m between runs/);
    for (const concurrency of ['allow', 'replace']) {
      assert.equal(parseManifestPayload(minimalManifest({ cron: { tidy: job({ timeout: 301, concurrency }) } })).cron?.tidy?.timeout, 301);
    }
    assert.equal(parseManifestPayload(minimalManifest({ cron: { tidy: job({ timeout: 300 }) } })).cron?.tidy?.timeout, 300);
  });

  it('takes a sealed notify url and refuses a plain one', () => {
    assert.equal(parseManifestPayload(minimalManifest({ notify: { url: SEALED } })).notify?.timeout, 5);
    refused({ notify: { url: 'https://hooks.example.com/T0/B0/secret' } }, /notify\.url: must be a sealed value/);
  });

  it('refuses more than 64 jobs', () => {
    const jobs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`job${i}`, job()]));
    assert.equal(Object.keys(parseManifestPayload(minimalManifest({ cron: jobs(64) })).cron ?? {}).length, 64);
    refused({ cron: jobs(65) }, /cron: at most 64 jobs/);
  });
});
