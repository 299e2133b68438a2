// Backup runs against a real engine: timeout and busy, the list and run API,
// what a restart cleans up, a schedule, before_deploy backups tied to the
// deploy they preceded (and failing it), the notify hook, and what the runner
// does with the verify step's answer (also when the timeout or a stop cuts it short).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupRecord } from '../../../shared/api-types.js';
import { seal } from '../../../shared/sealing.js';
import { waitFor } from '../../support/wait.js';
import { dump, sha, startBackupFixture, type BackupFixture } from '../../support/backup-fixture.js';

let x: BackupFixture;
before(async () => {
  x = await startBackupFixture('bakrun');
});
after(async () => x?.close());

const ref = (backup: string) => x.ref(backup);
const run = (backup: string) => x.backups.runNow(ref(backup), 'test-key');

test('the first deploy boots the accessory and skips the before_deploy backup, saying so', async () => {
  const events = await x.firstDeploy();
  assert.ok(events.some((e) => e.includes('before_deploy backups: skipped, this is the first deploy')), events.join('\n'));
});

test('a run over its timeout fails and is stopped; a second run of a busy backup gets 409 backup_busy', async () => {
  const first = run('slow');
  const busy = await waitFor('the first run started', () => x.f.store.backups.list(ref('slow'), 1)[0]?.record.outcome === 'running');
  assert.ok(busy);
  await assert.rejects(run('slow'), { code: 'backup_busy', status: 409 });
  const r = await first;
  assert.equal(r.outcome, 'failed');
  assert.match(r.reason, /^timed out after 1s/);
  assert.deepEqual(readdirSync(join(x.f.stateDir, 'backups', x.f.service, 'slow')), []);
});

test('the API: a run as NDJSON started then ended; the list of backups and records', async () => {
  const res = await x.api('POST', `/v1/services/${x.f.service}/backups/dump/run`, '{}');
  assert.equal(res.status, 200);
  const lines = (await res.text()).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { event: string; record: BackupRecord });
  assert.deepEqual(lines.map((l) => l.event), ['started', 'ended']);
  assert.equal(lines[0]!.record.outcome, 'running');
  assert.equal(lines[1]!.record.outcome, 'ok');
  assert.equal((await x.api('POST', `/v1/services/${x.f.service}/backups/nope/run`, '{}')).status, 404);

  const list = await x.api('GET', `/v1/services/${x.f.service}/backups?backup=dump&limit=2`);
  assert.equal(list.status, 200);
  const body = (await list.json()) as { release: string; backups: { name: string; path: string; newest_good: number }[]; records: BackupRecord[] };
  assert.equal(body.release, 'r1');
  assert.deepEqual(body.backups.map((b) => b.name), ['dump']);
  assert.equal(body.backups[0]!.path, join(x.f.stateDir, 'backups', x.f.service, 'dump'));
  assert.equal(body.backups[0]!.newest_good, lines[1]!.record.id);
  assert.deepEqual(body.records.map((r) => r.id), [lines[1]!.record.id]);
});

test('at start, rows left running are recorded as interrupted and temp files removed', async () => {
  const row = x.f.store.backups.start({ ...ref('dump'), kind: 'accessory', trigger: 'schedule', compression: 'zstd', recipient: null, release: 'r1', forRelease: null, image: null });
  const dir = join(x.f.stateDir, 'backups', 'elsewhere', 'old');
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `.tmp-${row.id}-abc`);
  writeFileSync(temp, 'partial');
  const again = x.service();
  await again.start();
  await again.stop();
  assert.equal(x.f.store.backups.get(row.id)!.record.outcome, 'interrupted');
  assert.ok(!existsSync(temp));
});

test('before_deploy on the second deploy: taken before the switch, tied to it; a schedule runs by itself', async () => {
  const m = await x.release({ tick: dump('echo tick', { schedule: '* * * * * *', keep: 1 }) });
  const d = await x.f.deploy(m);
  assert.equal(d.state, 'DONE', d.error ?? '');
  const pre = x.f.store.backups.list(ref('pre'), 5).map((r) => r.record);
  assert.equal(pre.length, 1);
  assert.equal(pre[0]!.outcome, 'ok', pre[0]!.reason);
  assert.equal(pre[0]!.trigger, 'before_deploy');
  assert.equal(pre[0]!.for_release, m.version);
  assert.equal(pre[0]!.release, 'r1');
  const events = x.f.store.events(d.id);
  const taken = events.findIndex((e) => e.message === `backup pre: #${pre[0]!.id} stored (${pre[0]!.size} bytes)`);
  assert.ok(taken >= 0, events.map((e) => e.message).join('\n'));
  assert.ok(taken < events.findIndex((e) => e.state === 'SWITCHED'), 'before the switch');

  const tick = await waitFor('a scheduled backup', () => x.f.store.backups.list(ref('tick'), 5).map((r) => r.record).find((r) => r.trigger === 'schedule' && r.outcome === 'ok'), 15_000);
  assert.equal(tick.raw_size, 5);
});

test('a failed before_deploy backup fails the deploy, the old release keeps serving; the notify hook hears of it', async () => {
  const live = x.f.store.current(x.f.service, '')!.version;
  const url = await seal('https://hooks.example.test/x', x.f.sealingPublicJwk, { use: 'notify-url', service: x.f.service, destination: '' });
  const d = await x.f.deploy(await x.release({ pre: dump('exit 4', { before_deploy: true }) }, { notify: { url } }));
  assert.equal(d.state, 'REVERTED');
  assert.match(d.error ?? '', /backup pre \(#\d+\) failed before the switch: the dump exited with code 4/);
  assert.equal(x.f.store.current(x.f.service, '')!.version, live);
  const failed = x.f.store.backups.list(ref('pre'), 1)[0]!.record;
  const event = await waitFor('the notify hook', () => x.notified.find((n) => n.id === failed.id));
  assert.deepEqual([event.event, event.backup, event.service, event.host, event.reason], ['backup.failed', 'pre', x.f.service, 'test-host-1', failed.reason]);
  await waitFor('the notify outcome recorded', () => x.f.store.backups.get(failed.id)!.record.notify === 'sent');
});

test('a verify that fails keeps the file for inspection, the row failed; one that passes is ok', async () => {
  let passed = false;
  const seen: string[] = [];
  const verifying = x.service({
    // The restore branch builds the real one; here only what the runner does with its answer.
    verify: async (_deps, input) => (seen.push(readFileSync(input.file).subarray(0, 4).toString('hex')), { passed, output: passed ? 'fine' : 'relation "users" does not exist' }),
  });
  const bad = await verifying.runNow(ref('checked'), 'test-key');
  assert.equal(bad.outcome, 'failed');
  assert.equal(bad.verify, 'failed');
  assert.equal(bad.verify_output, 'relation "users" does not exist');
  assert.equal(bad.stored, true);
  assert.equal(sha(readFileSync(x.f.store.backups.get(bad.id)!.file!)), bad.sha256);
  assert.equal(x.f.store.backups.newestGood(ref('checked')), undefined, 'never a good backup');
  passed = true;
  const good = await verifying.runNow(ref('checked'), 'test-key');
  assert.equal(good.outcome, 'ok', good.reason);
  assert.equal(good.verify, 'passed');
  assert.deepEqual(seen, ['28b52ffd', '28b52ffd'], 'verify reads the compressed plaintext temp');
  assert.equal(x.f.store.backups.get(bad.id)!.record.stored, false, 'retention deletes the verify-failed file once a newer good one exists');
});

test('a verify cut short: by the timeout the reason says so; by the agent stopping the run is interrupted and stores nothing', async () => {
  const untilAborted = (signal: AbortSignal) => new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve())));
  const timing = x.service({ verify: async (_deps, input) => (await untilAborted(input.signal), { passed: false, output: '' }) });
  const slow = await x.release({ checked: dump('cat /data/x', { verify: ['true'], timeout: 1 }) });
  assert.equal((await x.f.deploy(slow)).state, 'DONE');
  const timedOut = await timing.runNow(ref('checked'), 'test-key');
  assert.equal(timedOut.outcome, 'failed');
  assert.match(timedOut.reason, /^timed out after 1s/);

  let stopping: Promise<void> | undefined;
  const stopped: { svc?: ReturnType<typeof x.service> } = {};
  stopped.svc = x.service({ verify: async (_deps, input) => {
    stopping = stopped.svc!.stop();
    await untilAborted(input.signal);
    return { passed: false, output: '' };
  } });
  const dir = join(x.f.stateDir, 'backups', x.f.service, 'checked');
  const before = new Set(readdirSync(dir));
  const cut = await stopped.svc.runNow(ref('checked'), 'test-key');
  await stopping;
  assert.equal(cut.outcome, 'interrupted');
  assert.equal(cut.stored, false);
  assert.deepEqual(readdirSync(dir).filter((n) => !before.has(n)), [], 'no file of it is left');
});
