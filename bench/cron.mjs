#!/usr/bin/env node
// The agent's cron, measured on a real agent + router on test engine 1:
//  - drift over N runs of a `* * * * * *` job (`true`, concurrency forbid):
//    from its slot to the run row (the scheduler's own lateness) and to the
//    container's start as Docker reports it (`docker events`, ns precision),
//    while 50 more jobs are scheduled;
//  - the agent's RSS with the app deployed and no jobs, then with 50 jobs
//    scheduled (ratio against that baseline, same agent, same run).
//   npm run build && node bench/cron.mjs [--runs 100]
// Also printed by `npm run bench` after its table.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { envVars, provision, teardown } from '../scripts/provision-test-env.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = (bytes) => (bytes / 1048576).toFixed(1);

function rss(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN) * 1024;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { n: s.length, median: at(0.5), p95: at(0.95), worst: s[s.length - 1], best: s[0] };
}

/** RSS after the agent has been idle a while: the median of five samples a second apart. */
async function settledRss(pid) {
  await sleep(5_000);
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rss(pid));
    await sleep(1_000);
  }
  return stats(samples).median;
}

const dailyJobs = (n) =>
  Array.from({ length: n }, (_, i) => `  daily${i}:\n    schedule: "${i % 60} 3 * * *"\n    command: ["true"]\n`).join('');

/** Start events of the job's containers, with Docker's ns timestamps. */
function watchStarts(engineHost, job) {
  const starts = [];
  const child = spawn('docker', ['-H', engineHost, 'events', '--format', '{{json .}}', '--filter', 'type=container', '--filter', 'event=start', '--filter', `label=berth.cron=${job}`]);
  let buffer = '';
  child.stdout.on('data', (d) => {
    buffer += d.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        starts.push(Number(BigInt(JSON.parse(line).timeNano) / 1000n) / 1000);
      } catch {
        // not an event line
      }
    }
  });
  return { starts, stop: () => child.kill() };
}

export async function cronFigures({ runs = 100, jobs = 50 } = {}) {
  const { setupApp } = await import('../dist/test/support/e2e-app.js');
  const app = await setupApp('cronbench', { agentEnv: { BERTH_CRON_MAX_JOBS: String(jobs + 1) } });
  try {
    const host = app.hosts[0];
    const pid = host.agent.pid;
    const push = async (version, extra) => {
      app.configure('v1', extra);
      const r = await app.push(version);
      if (r.code !== 0) throw new Error(`push ${version} failed (exit ${r.code}): ${r.stderr}`);
    };
    // Two pushes before the baseline, as before the 50-job figure: the second push's own cost is in both.
    await push('nojobs-1', '');
    await push('nojobs-2', '');
    const baseline = await settledRss(pid);
    await push('jobs50', `cron:\n${dailyJobs(jobs)}`);
    const withJobs = await settledRss(pid);

    const watch = watchStarts(host.engine.host, 'tick');
    await push('drift', `cron:\n${dailyJobs(jobs - 1)}  tick:\n    schedule: "* * * * * *"\n    command: ["true"]\n    timeout: 1\n`);
    // Docker's events say how far it got; the agent is asked only at the end (asking costs it CPU, which is drift).
    const deadline = Date.now() + (runs * 2 + 60) * 1000;
    while (watch.starts.length < runs + 1 && Date.now() < deadline) await sleep(1_000);
    await sleep(2_000);
    watch.stop();
    const history = await app.app.run(['cron', 'history', 'tick', '-n', '200', '--json']);
    let rows = (JSON.parse(history.stdout).servers[0]?.runs ?? []).filter((x) => x.trigger === 'schedule' && x.outcome !== 'running' && x.outcome !== 'skipped');
    rows = rows.reverse().slice(0, runs);
    if (rows.length < runs) throw new Error(`only ${rows.length} runs of the every-second job in time`);
    const skipped = (JSON.parse(history.stdout).servers[0]?.runs ?? []).filter((x) => x.outcome === 'skipped').length;
    const scheduler = rows.map((x) => Date.parse(x.started_at) - Date.parse(x.scheduled_at));
    // The container start that follows each run row (runs never overlap: forbid, 1 s timeout).
    const starts = [...watch.starts];
    const toStart = [];
    for (const x of rows) {
      const i = starts.findIndex((t) => t >= Date.parse(x.started_at));
      if (i === -1) continue;
      toStart.push(starts[i] - Date.parse(x.scheduled_at));
      starts.splice(0, i + 1);
    }
    return { baseline, withJobs, jobs, scheduler: stats(scheduler), toStart: stats(toStart), skipped, failed: rows.filter((x) => x.outcome !== 'succeeded').length };
  } finally {
    await app.teardown();
  }
}

export function renderCronFigures(f) {
  const row = (name, s) => `${name.padEnd(34)} ${String(s.n).padStart(4)}  median ${s.median.toFixed(1).padStart(7)}  p95 ${s.p95.toFixed(1).padStart(7)}  worst ${s.worst.toFixed(1).padStart(7)}  best ${s.best.toFixed(1).padStart(7)}`;
  return [
    'cron drift (ms after the scheduled second):',
    row('  slot -> run recorded (scheduler)', f.scheduler),
    row('  slot -> container started', f.toStart),
    `  runs not succeeded: ${f.failed}; slots skipped (previous still running): ${f.skipped}`,
    `agent RSS: ${MiB(f.baseline)} MiB with no jobs, ${MiB(f.withJobs)} MiB with ${f.jobs} jobs scheduled (${(f.withJobs / f.baseline).toFixed(2)}x)`,
    '',
  ].join('\n');
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '100' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 10 || runs > 190) throw new Error('--runs must be 10..190 (the agent keeps 200 runs per job)');
  const env = await provision();
  Object.assign(process.env, envVars(env));
  try {
    process.stdout.write(renderCronFigures(await cronFigures({ runs })));
  } finally {
    if (process.env.BERTH_TEST_KEEP !== '1') await teardown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`cron bench: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  });
}
