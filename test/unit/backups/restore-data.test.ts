// Where a directory restore writes: an absolute directory is judged by the
// guardrails like a role's bind before anything is created or emptied; a
// volume whose mount point is a symlink is not emptied through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTarget, dataTarget, type DataDeps } from '../../../agent/backups/restore-data.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import type { DockerPort } from '../../../agent/docker.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { backupSchema } from '../../../shared/manifest-backups.js';

test('a directory restore target outside the allowed bind directories, or resolving out of them, is refused before anything is made', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-restore-target-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const allowed = join(tmp, 'allowed');
  mkdirSync(allowed);
  mkdirSync(join(tmp, 'elsewhere'));
  symlinkSync(join(tmp, 'elsewhere'), join(allowed, 'link'));
  const deps: DataDeps = { docker: {} as DockerPort, agentId: 'a', stateDir: tmp, policy: guardrailPolicy({ allowBinds: [allowed] }) };
  const m = { service: 'shop', destination: '' } as ManifestPayload;
  const target = (directory: string) => dataTarget(deps, m, 'files', backupSchema.parse({ kind: 'directory', directory }));

  await assert.rejects(target(join(tmp, 'other', 'new')), (e: Error & { code?: string }) => e.code === 'guardrail_refused' && /outside the host directories/.test(e.message));
  await assert.rejects(target('/etc'), (e: Error & { code?: string }) => e.code === 'guardrail_refused');
  await assert.rejects(target('/'), (e: Error & { code?: string }) => e.code === 'guardrail_refused');
  await assert.rejects(target(join(allowed, 'link', 'x')), (e: Error & { code?: string }) => e.code === 'guardrail_refused' && /resolves to/.test(e.message));
  assert.ok(!existsSync(join(tmp, 'other')) && !existsSync(join(tmp, 'elsewhere', 'x')), 'nothing was created');

  const ok = await target(join(allowed, 'uploads'));
  assert.deepEqual(ok, { label: `directory ${join(allowed, 'uploads')}`, bind: `${join(allowed, 'uploads')}:/data`, hostPath: join(allowed, 'uploads') });
});

test('a volume whose mount point is a symlink is refused before anything is stopped', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'berth-restore-volume-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  mkdirSync(join(tmp, 'precious'));
  symlinkSync(join(tmp, 'precious'), join(tmp, '_data'));
  let mountpoint = join(tmp, '_data');
  const docker = { volumeInfo: async () => ({ labels: {}, mountpoint }) } as unknown as DockerPort;
  const deps: DataDeps = { docker, agentId: 'a', stateDir: tmp, policy: guardrailPolicy() };
  await assert.rejects(checkTarget(deps, { label: 'volume v', bind: 'v:/data', volume: 'v' }), (e: Error & { code?: string }) => e.code === 'volume_unreachable' && /is a symlink/.test(e.message));
  mountpoint = join(tmp, 'precious');
  await checkTarget(deps, { label: 'volume v', bind: 'v:/data', volume: 'v' });
});
