// What `deploy backup` prints for sizes, progress events and a run's summary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventLine, humanSize, runSummary } from '../../../cli/actions/backup-render.js';
import { plainStyle } from '../../../cli/output/style.js';
import type { BackupRecord } from '../../../shared/api-types.js';

const r = (over: Partial<BackupRecord>): BackupRecord => ({
  id: 12, service: 'demo', destination: '', backup: 'db', kind: 'accessory', trigger: 'manual', started_at: '2026-12-01T03:00:00.000Z', ended_at: null,
  duration_ms: 61_000, outcome: 'ok', reason: '', size: 5 * 1024 ** 3, raw_size: null, sha256: '0123456789abcdef'.repeat(4), plain_sha256: null, compression: 'zstd',
  recipient: null, release: 'v1', for_release: null, image: null, verify: 'passed', verify_output: '', notify: null, stored: true, ...over,
});

describe('backup rendering', () => {
  it('sizes in binary units', () => {
    assert.deepEqual([0, 1023, 1536, 10 * 1024 ** 2, 5 * 1024 ** 3, null].map(humanSize), ['0 B', '1023 B', '1.5 KiB', '10.0 MiB', '5.0 GiB', '-']);
  });

  it('a summary says size, checksum, verify and time, or the failure and why; escape sequences from the agent are dropped', () => {
    assert.equal(runSummary('h1', r({}), plainStyle), 'h1: db #12 ok, 5.0 GiB, sha256 0123456789ab, verified, 1m01s');
    assert.equal(runSummary('h1', r({ outcome: 'failed', reason: 'pg_dump exited 1\x1b[2J' }), plainStyle), 'h1: db #12 FAILED: pg_dump exited 1');
    assert.equal(eventLine('h1', { event: 'step', message: 'verifying' }), 'h1: verifying');
    assert.equal(eventLine('h1', { event: 'ended', record: r({}), restored: true }), 'h1: db #12 ended: ok, restored');
  });
});
