import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBusy } from '../../../agent/backups/busy.js';

test('one run or restore per backup; a restore holds the service, a run does not; agents do not share claims', () => {
  const busy = createBusy();
  const ref = { service: 'svc', destination: '', backup: 'db' };
  const release = busy.claim(ref, 'restore');
  assert.ok(busy.isBusy(ref));
  assert.ok(busy.restoreUnderWay('svc', ''));
  assert.ok(!busy.restoreUnderWay('svc', 'staging'));
  assert.throws(() => busy.claim(ref, 'run'), (e: Error & { code?: string; status?: number }) => e.code === 'backup_busy' && e.status === 409 && /a restore of backup db/.test(e.message));
  assert.ok(!createBusy().isBusy(ref), 'another agent in the same process has its own claims');
  busy.claim({ ...ref, backup: 'files' }, 'run')();
  release();
  release();
  assert.ok(!busy.isBusy(ref));
  assert.ok(!busy.restoreUnderWay('svc', ''));
  const run = busy.claim(ref, 'run');
  assert.ok(!busy.restoreUnderWay('svc', ''), 'a run does not hold deploys back');
  run();
});
