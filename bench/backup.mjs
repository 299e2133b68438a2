#!/usr/bin/env node
// A volume backup and its restore, Berth against the plain tools, side by
// side in one run (never part of a test run):
//   npm run bench:backup       (builds first)    node bench/backup.mjs [--size MiB] [--runs N]
// A named volume on test engine 1 gets ~1 GiB of mixed data (bench/backup-data.mjs).
// Baseline, timed in the same run on the same (warm) data:
//   backup:  tar -C <mountpoint> -cf - . | zstd -3 -q -c > file && sync file
//            (the agent fsyncs its file before it counts, so the baseline does too)
//   restore: zstd -d -c file | tar -C <empty dir> -xf -
// Berth: a real agent with a release whose backup `data` is that volume
// (kind volume, zstd); POST …/backups/data/run, then …/backups/data/restore
// (the newest good one back into the volume), each timed to its `ended` line.
// Rates are MB/s of the volume's raw bytes; the agent's peak RSS (VmHWM, reset
// before each step through /proc/PID/clear_refs) is printed beside them.
// Until the agent serves the backups API (404/501), the Berth half is skipped
// with a message and the baseline still runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { envVars, provision, teardown } from '../scripts/provision-test-env.mjs';
import { generateData } from './backup-data.mjs';

const BACKUP = 'data';
const MB = 1e6;

function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function sh(script, args, what) {
  const started = performance.now();
  const r = spawnSync('bash', ['-c', `set -euo pipefail; ${script}`, 'bench', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${r.stderr.trim()}`);
  return (performance.now() - started) / 1000;
}

function docker(host, args) {
  const r = spawnSync('docker', ['-H', host, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function vmHwm(pid) {
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
}

/** Resets the process's peak RSS to its current RSS (Linux: clear_refs 5). */
function resetHwm(pid) {
  fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** The Berth half's context: an agent with a release backing up `volume`; null (with a reason) when the agent has no backups API. */
async function berthAgent(volume) {
  const { setupApp, explain } = await import('../dist/test/support/e2e-app.js');
  const { agentId, loadKey, postResigned, signedRequest, storedPayload } = await import('../dist/test/support/signed-client.js');
  const { waitFor } = await import('../dist/test/support/wait.js');
  const app = await setupApp('backupbench');
  try {
    const host = app.hosts[0];
    await host.trust(app.keyLine, 'admin');
    const key = loadKey(app.app.keyFile);
    const aud = await agentId(host);
    const pushed = await app.push('v1');
    if (pushed.code !== 0) throw new Error(`push failed: ${explain(pushed, app)}`);
    const stored = await storedPayload(host, key, aud, app.service, 'v1');
    const posted = await postResigned(host, key, aud, stored, stored.seq + 1, { backups: { [BACKUP]: { kind: 'volume', volume, timeout: 3600 } } });
    if (posted.status !== 202) return { app, skip: `the agent refused a release with backups (${posted.status} ${JSON.stringify(posted.body)})` };
    const id = posted.body.deploy.id;
    const done = await waitFor('the deploy to end', async () => {
      const d = await signedRequest(host, key, aud, 'GET', `/v1/deploys/${id}`);
      return ['DONE', 'REVERTED', 'FAILED'].includes(d.body.deploy?.state) ? d.body.deploy.state : undefined;
    }, 120_000, { intervalMs: 250 });
    if (done !== 'DONE') throw new Error(`the release with the backup ended ${done}`);
    const api = (method, p, body = '') => signedRequest(host, key, aud, method, `/v1/services/${app.service}/backups${p}`, body);
    const listed = await api('GET', '?destination=');
    if (listed.status === 404 || listed.status === 501) {
      return { app, skip: `the agent has no backups API yet (GET …/backups answered ${listed.status}): Berth half skipped` };
    }
    if (listed.status !== 200) throw new Error(`GET backups answered ${listed.status}: ${JSON.stringify(listed.body)}`);
    return { app, api, pid: host.agent.pid };
  } catch (err) {
    await app.teardown();
    throw err;
  }
}

/** Runs one NDJSON step (run or restore) to its `ended` line; seconds, the record and the agent's peak RSS. */
async function berthStep(agent, what, p) {
  resetHwm(agent.pid);
  const started = performance.now();
  const r = await agent.api('POST', `/${BACKUP}/${p}?destination=`, '{}');
  const seconds = (performance.now() - started) / 1000;
  const peak = vmHwm(agent.pid);
  if (r.status !== 200) throw new Error(`${what} answered ${r.status}: ${JSON.stringify(r.body)}`);
  const lines = String(typeof r.body === 'string' ? r.body : JSON.stringify(r.body)).split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const failed = lines.find((l) => l.error);
  if (failed) throw new Error(`${what}: ${failed.error.code}: ${failed.error.message}`);
  const ended = lines.find((l) => l.event === 'ended');
  if (!ended) throw new Error(`${what}: no ended line in ${JSON.stringify(lines).slice(0, 500)}`);
  const record = ended.record;
  if (record.outcome !== 'ok') throw new Error(`${what} ended ${record.outcome}: ${JSON.stringify(record).slice(0, 500)}`);
  return { seconds, peak, record };
}

export async function backupFigures({ sizeMiB = 1024, runs = 1 } = {}) {
  const env = await provision();
  Object.assign(process.env, envVars(env));
  const engine = env.engines[0].host;
  const volume = `berth-bench-backup-${process.pid}`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-backup-'));
  let agent;
  try {
    docker(engine, ['volume', 'create', volume]);
    const mountpoint = docker(engine, ['volume', 'inspect', '-f', '{{.Mountpoint}}', volume]);
    let started = performance.now();
    const data = generateData(mountpoint, sizeMiB * 1024 * 1024);
    spawnSync('sync');
    const generated = (performance.now() - started) / 1000;

    agent = await berthAgent(volume);
    const rows = { baseBackup: [], baseRestore: [], berthBackup: [], berthRestore: [], backupPeak: [], restorePeak: [] };
    let compressed = NaN;
    let berthFile = NaN;
    for (let i = 0; i < runs; i++) {
      const file = path.join(work, 'baseline.tar.zst');
      const target = path.join(work, 'restore');
      rows.baseBackup.push(sh('tar -C "$1" -cf - . | zstd -3 -q -c > "$2"; sync "$2"', [mountpoint, file], 'baseline backup'));
      compressed = fs.statSync(file).size;
      if (agent.api) {
        const b = await berthStep(agent, 'backup run', 'run');
        rows.berthBackup.push(b.seconds);
        rows.backupPeak.push(b.peak);
        berthFile = b.record.size ?? NaN;
      }
      fs.mkdirSync(target);
      rows.baseRestore.push(sh('zstd -d -c "$1" | tar -C "$2" -xf -', [file, target], 'baseline restore'));
      fs.rmSync(target, { recursive: true, force: true });
      fs.rmSync(file, { force: true });
      if (agent.api) {
        const r = await berthStep(agent, 'restore', 'restore');
        rows.berthRestore.push(r.seconds);
        rows.restorePeak.push(r.peak);
      }
    }
    return { data, generated, compressed, berthFile, skip: agent.skip, rows, runs };
  } finally {
    await agent?.app.teardown();
    fs.rmSync(work, { recursive: true, force: true });
    spawnSync('docker', ['-H', engine, 'volume', 'rm', '-f', volume]);
    if (process.env.BERTH_TEST_KEEP !== '1') await teardown();
  }
}

export function renderBackupFigures(f) {
  const mbps = (s) => f.data.bytes / MB / s;
  const row = (name, samples, base) => {
    const s = median(samples);
    const rate = Number.isFinite(s) ? `${mbps(s).toFixed(0).padStart(6)} MB/s  ${s.toFixed(2).padStart(7)} s` : '     -';
    const ratio = base && Number.isFinite(s) ? `  ${(mbps(s) / mbps(median(base))).toFixed(2)}x of baseline` : '';
    return `  ${name.padEnd(40)} ${rate}${ratio}`;
  };
  const MiB = (b) => (b / 1048576).toFixed(0);
  const lines = [
    `volume backup: ${(f.data.bytes / MB).toFixed(0)} MB in ${f.data.files} files (half random, half text), generated in ${f.generated.toFixed(1)} s; median of ${f.runs} run(s), warm cache`,
    row('baseline backup (tar | zstd -3, fsync)', f.rows.baseBackup),
    row('Berth backup run (API, to ended)', f.rows.berthBackup, f.rows.baseBackup),
    row('baseline restore (zstd -d | tar -x)', f.rows.baseRestore),
    row('Berth restore (API, to ended)', f.rows.berthRestore, f.rows.baseRestore),
    `  compressed: baseline ${(f.compressed / MB).toFixed(0)} MB${Number.isFinite(f.berthFile) ? `, Berth ${(f.berthFile / MB).toFixed(0)} MB` : ''}`,
  ];
  if (f.rows.backupPeak.length > 0) {
    lines.push(`  agent peak RSS: ${MiB(Math.max(...f.rows.backupPeak))} MiB during backup runs, ${MiB(Math.max(...f.rows.restorePeak))} MiB during restores`);
  }
  if (f.skip) lines.push(`  ${f.skip}`);
  return `${lines.join('\n')}\n`;
}

async function main() {
  const { values } = parseArgs({ options: { size: { type: 'string', default: '1024' }, runs: { type: 'string', default: '1' } } });
  const sizeMiB = Number(values.size);
  const runs = Number(values.runs);
  if (!Number.isInteger(sizeMiB) || sizeMiB < 16 || sizeMiB > 16384) throw new Error('--size must be 16..16384 (MiB)');
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs must be 1..20');
  process.stdout.write(renderBackupFigures(await backupFigures({ sizeMiB, runs })));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`backup bench: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  });
}
