import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claim, isClaimed, restoreUnderWay } from '../../../agent/backups/busy.js';

const ref = { service: 'svc', destination: '', backup: 'db' };

test('one run or restore per backup: the second claim is 409 backup_busy until the first is released', () => {
  const release = claim(ref, 'restore');
  assert.ok(isClaimed(ref));
  assert.ok(restoreUnderWay('svc', ''));
  assert.ok(!restoreUnderWay('svc', 'staging'));
  assert.throws(() => claim(ref, 'run'), (e: Error & { code?: string; status?: number }) => e.code === 'backup_busy' && e.status === 409 && /a restore of backup db/.test(e.message));
  // Another backup of the service is free.
  claim({ ...ref, backup: 'files' })();
  release();
  release();
  assert.ok(!isClaimed(ref));
  assert.ok(!restoreUnderWay('svc', ''));
  const run = claim(ref, 'run');
  assert.ok(!restoreUnderWay('svc', ''), 'a run does not hold deploys back');
  run();
});
