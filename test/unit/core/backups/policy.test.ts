import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkBackupPolicy, DEFAULT_BACKUP_MIN_INTERVAL_S } from '../../../../agent/core/backups/policy.js';
import { UserError } from '../../../../shared/errors.js';
import { parseManifestPayload, type ManifestPayload } from '../../../../shared/manifest.js';
import { minimalManifest } from '../../../support/manifest-fixture.js';

function withBackups(schedules: Record<string, string | undefined>): ManifestPayload {
  const backups = Object.fromEntries(Object.entries(schedules).map(([n, schedule]) => [n, { kind: 'volume', volume: 'uploads', ...(schedule ? { schedule } : {}) }]));
  return parseManifestPayload(minimalManifest({ backups }));
}

describe('backup policy', () => {
  it('lets through schedules at most once a minute by default, and backups without a schedule', () => {
    assert.equal(DEFAULT_BACKUP_MIN_INTERVAL_S, 60);
    checkBackupPolicy(withBackups({ a: '* * * * *', b: '@daily', manual: undefined }), DEFAULT_BACKUP_MIN_INTERVAL_S);
  });

  it('refuses a schedule more frequent than --backup-min-interval, naming backups.NAME.schedule', () => {
    assert.throws(() => checkBackupPolicy(withBackups({ ok: '@hourly', fast: '*/10 * * * * *' }), DEFAULT_BACKUP_MIN_INTERVAL_S), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.code, 'backup_refused');
      assert.equal(e.status, 400);
      assert.match(e.message, /^backups\.fast\.schedule: "\*\/10 \* \* \* \* \*" runs every 10s; this agent takes a backup at most once every 1m/);
      assert.match(e.hint ?? '', /--backup-min-interval/);
      return true;
    });
    checkBackupPolicy(withBackups({ fast: '*/10 * * * * *' }), 10);
  });
});
