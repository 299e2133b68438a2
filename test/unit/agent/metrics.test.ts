// The agent's metrics over a real store: deploy outcomes read from the rows
// (so they survive a restart), cron, backup and delivery endings counted once
// each as they happen, and phase durations from the engine's hook.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createAgentMetrics } from '../../../agent/metrics.js';
import { openStore } from '../../../agent/store/index.js';
import { moveDeploy } from '../../support/deploy-states.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { parseExposition } from '../../support/metrics.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-agent-metrics-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('deploy outcomes come from the store, so a restarted agent reports the same counts', async () => {
  const file = join(dir, 'deploys.db');
  let store = openStore(file);
  const ok = store.acceptRelease({ payload: storedPayload({ version: 'v1', seq: 1 }), jws: 'jws', keyId: STORE_KID });
  moveDeploy(store, ok.id, 'DONE');
  const bad = store.acceptRelease({ payload: storedPayload({ version: 'v2', seq: 2 }), jws: 'jws', keyId: STORE_KID });
  moveDeploy(store, bad.id, 'FAILED', 'health check failed');
  moveDeploy(store, bad.id, 'REVERTED');
  store.acceptRelease({ payload: storedPayload({ version: 'v3', seq: 3 }), jws: 'jws', keyId: STORE_KID });
  let s = parseExposition(await createAgentMetrics(store).render());
  assert.equal(s.get('berth_deploys_total{service="demo",destination="",outcome="ok"}'), 1);
  assert.equal(s.get('berth_deploys_total{service="demo",destination="",outcome="failed"}'), 1);
  assert.equal(s.get('berth_deploys_in_progress'), 1);
  store.close();
  store = openStore(file);
  s = parseExposition(await createAgentMetrics(store).render());
  assert.equal(s.get('berth_deploys_total{service="demo",destination="",outcome="ok"}'), 1);
  store.close();
});

test('cron runs, backups and deliveries count each ending once, skipped and interrupted ones included', async () => {
  const store = openStore(join(dir, 'runs.db'));
  const metrics = createAgentMetrics(store);
  const job = { service: 'demo', destination: '', job: 'tidy', trigger: 'schedule' as const, attempt: 1, scheduledAt: null, release: 'v1', image: 'img' };
  const end = { exitCode: 0, reason: '', output: '', outputTruncated: false };
  const a = store.cron.startRun({ ...job, outcome: 'running' });
  store.cron.finishRun(a.id, { ...end, outcome: 'succeeded' });
  store.cron.finishRun(a.id, { ...end, outcome: 'failed' });
  store.cron.startRun({ ...job, outcome: 'skipped', reason: 'already running' });
  store.cron.startRun({ ...job, outcome: 'running' });
  store.cron.interruptRunning('the agent stopped', () => ({ keyId: 'agent', action: 'cron.failed' }));

  const backup = { service: 'demo', destination: '', backup: 'db', kind: 'volume' as const, trigger: 'manual' as const, compression: 'gzip' as const, recipient: null, release: 'v1', forRelease: null, image: null };
  const b = store.backups.start(backup);
  const ending = { reason: '', file: null, size: null, rawSize: null, sha256: null, plainSha256: null, verify: null, verifyOutput: '' };
  store.backups.finish(b.id, { ...ending, outcome: 'failed' });
  store.backups.finish(b.id, { ...ending, outcome: 'ok' });

  const queued = store.webhooks.record({ service: 'demo', destination: '', source: 'generic', outcome: 'queued' });
  store.webhooks.record({ service: 'demo', destination: '', source: 'generic', outcome: 'refused', reason: 'bad token' });
  store.webhooks.update(queued.id, { outcome: 'deployed' });

  metrics.onPhase('wait healthy', 1500);
  metrics.onPhase('wait healthy', 20);
  const s = parseExposition(await metrics.render());
  const cron = (outcome: string) => s.get(`berth_cron_runs_total{service="demo",destination="",job="tidy",outcome="${outcome}"}`);
  assert.deepEqual([cron('succeeded'), cron('failed'), cron('skipped'), cron('interrupted')], [1, undefined, 1, 1]);
  assert.equal(s.get('berth_backups_total{service="demo",destination="",backup="db",outcome="failed"}'), 1);
  assert.equal(s.get('berth_backups_total{service="demo",destination="",backup="db",outcome="ok"}'), undefined, 'a second ending is ignored');
  assert.equal(s.get('berth_webhook_deliveries_total{service="demo",destination="",outcome="deployed"}'), 1);
  assert.equal(s.get('berth_webhook_deliveries_total{service="demo",destination="",outcome="refused"}'), 1);
  assert.equal(s.get('berth_webhook_deliveries_total{service="demo",destination="",outcome="queued"}'), undefined);
  assert.equal(s.get('berth_deploy_phase_duration_seconds_count{phase="wait_healthy"}'), 2);
  assert.equal(s.get('berth_deploy_phase_duration_seconds_bucket{phase="wait_healthy",le="0.1"}'), 1);
  assert.equal(s.get('berth_deploy_phase_duration_seconds_bucket{phase="wait_healthy",le="1"}'), 1);
  assert.equal(s.get('berth_deploy_phase_duration_seconds_bucket{phase="wait_healthy",le="2.5"}'), 2);
  assert.equal(s.get('berth_deploy_phase_duration_seconds_sum{phase="wait_healthy"}'), 1.52);
  store.close();
});
