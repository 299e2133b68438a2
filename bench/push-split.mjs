#!/usr/bin/env node
// Where the time of one `deploy push` goes (never part of a test run):
//   node bench/push-split.mjs [--runs N]      (after npm run build)
// Start-up: median of 20 runs of bare node, `deploy version`, `deploy config`
// (a fixture deploy.yml) and `berth-agent --help`. Push: the CLI runs with
// bench/trace-cli.mjs preloaded (its registry and agent requests, with wall
// times), the agent's deploy events come from its store (read-only), and the
// router's view from polling it every 2 ms, all on this machine's one clock.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { envVars, provision, teardown } from '../scripts/provision-test-env.mjs';
import { AGENT_BIN, CLI_BIN } from '../dist/test/support/berth-host.js';
import { setupApp } from '../dist/test/support/e2e-app.js';
import { served } from './served.mjs';

const TRACE_PRELOAD = fileURLToPath(new URL('./trace-cli.mjs', import.meta.url));
const wall = () => performance.timeOrigin + performance.now();

export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function startupMs(args, cwd, runs = 20) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    samples.push(performance.now() - t);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return median(samples);
}

export function startupTable(appDir) {
  const rows = [
    ['node -e ""', startupMs(['-e', ''], appDir)],
    ['deploy version', startupMs([CLI_BIN, 'version'], appDir)],
    ['deploy config', startupMs([CLI_BIN, 'config'], appDir)],
    ['berth-agent --help', startupMs([AGENT_BIN, '--help'], appDir)],
  ];
  return table(['start-up (20 runs)', 'median ms'], rows.map(([n, ms]) => [n, ms.toFixed(1)]));
}

function table(header, cells) {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return `${[line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')}\n`;
}

/** One push, returned as named instants in ms after its spawn. */
async function onePush(app, tag, version) {
  const trace = join(tmpdir(), `berth-trace-${process.pid}-${version}.jsonl`);
  rmSync(trace, { force: true });
  const h = app.hosts[0];
  app.configure(tag);
  const t0 = wall();
  const run = app.app.run(['push', '--version', version], { env: { NODE_OPTIONS: `--import=${TRACE_PRELOAD}`, BERTH_BENCH_TRACE: trace } });
  let servedAt;
  while (wall() - t0 < 60_000) {
    if ((await served(h.ip, h.httpPort, app.hostHeader)) === tag) {
      servedAt = wall();
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const r = await run;
  const exitAt = wall();
  if (r.code !== 0 || servedAt === undefined) throw new Error(`push failed: ${r.stderr}`);
  const lines = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  rmSync(trace, { force: true });
  const db = new Database(join(h.stateDir, 'berth.db'), { readonly: true, fileMustExist: true });
  let deploy, events;
  try {
    deploy = db.prepare('SELECT id, created_at FROM deploys WHERE version = ?').get(version);
    events = db.prepare('SELECT at, state, message FROM deploy_events WHERE deploy_id = ? ORDER BY id').all(deploy.id);
  } finally {
    db.close();
  }
  const firstState = (s) => Date.parse(events.find((e) => e.state === s)?.at ?? '') ;
  const registry = lines.filter((l) => l.what === 'registry');
  const agent = lines.filter((l) => l.what === 'agent');
  const post = agent.find((l) => l.method === 'POST' && l.path === '/v1/releases');
  const rel = (t) => (t === undefined || Number.isNaN(t) ? NaN : t - t0);
  return {
    process: rel(lines.find((l) => l.what === 'process')?.t),
    preload: rel(lines.find((l) => l.what === 'preload')?.t),
    digestStart: rel(registry[0]?.start),
    digestEnd: rel(registry.at(-1)?.t),
    firstAgent: rel(agent[0]?.start),
    postStart: rel(post?.start),
    postAnswered: rel(post?.t),
    received: rel(Date.parse(deploy.created_at)),
    verified: rel(firstState('VERIFIED')),
    pulled: rel(firstState('PULLED')),
    started: rel(firstState('STARTED')),
    healthy: rel(firstState('HEALTHY')),
    switched: rel(firstState('SWITCHED')),
    served: rel(servedAt),
    done: rel(firstState('DONE')),
    exit: rel(exitAt),
    agentRequests: agent.map((l) => `${l.method} ${l.path} ${(l.start - t0).toFixed(0)}-${(l.t - t0).toFixed(0)}`),
  };
}

// [phase, from, to]: consecutive instants, so the phases add up to "exit".
const PHASES = [
  ['CLI start (spawn -> preload)', null, 'preload'],
  ['CLI config, key, version (-> registry request)', 'preload', 'digestStart'],
  ['digest (registry lookup)', 'digestStart', 'digestEnd'],
  ['connect, identity, sign (-> POST /v1/releases; connecting overlaps the digest)', 'digestEnd', 'postStart'],
  ['accept (POST -> deploy RECEIVED)', 'postStart', 'received'],
  ['verify (RECEIVED -> VERIFIED)', 'received', 'verified'],
  ['pull check (VERIFIED -> PULLED)', 'verified', 'pulled'],
  ['start (PULLED -> STARTED)', 'pulled', 'started'],
  ['health (STARTED -> HEALTHY)', 'started', 'healthy'],
  ['switch (HEALTHY -> SWITCHED)', 'healthy', 'switched'],
  ['router serves (SWITCHED -> first 200 seen)', 'switched', 'served'],
  ['after serving: drain, stop, CLI exit', 'served', 'exit'],
];

export async function pushSplit(runs) {
  const app = await setupApp('benchsplit');
  try {
    const startup = startupTable(app.app.dir);
    for (const [tag, v] of [['v1', 'warm-1'], ['v2', 'warm-2']]) {
      app.configure(tag);
      const w = await app.push(v);
      if (w.code !== 0) throw new Error(`warm-up push failed: ${w.stderr}`);
    }
    const samples = [];
    for (let i = 0; i < runs; i++) samples.push(await onePush(app, i % 2 === 0 ? 'v1' : 'v2', `s${i}-${Date.now()}`));
    const cells = PHASES.map(([name, from, to]) => {
      const ms = median(samples.map((s) => s[to] - (from ? s[from] : 0)));
      const at = median(samples.map((s) => s[to]));
      return [name, ms.toFixed(1), at.toFixed(1)];
    });
    const split = table([`push split (${runs} runs, medians)`, 'phase ms', 'at ms'], cells);
    const last = samples.at(-1);
    return `${startup}\n${split}\nagent requests of the last push (ms after spawn): ${last.agentRequests.join('; ')}\n`;
  } finally {
    await app.teardown();
  }
}

async function main() {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error('--runs must be 1..100');
  const env = await provision();
  Object.assign(process.env, envVars(env));
  try {
    process.stdout.write(await pushSplit(runs));
  } finally {
    if (process.env.BERTH_TEST_KEEP !== '1') await teardown();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`bench: ${err instanceof Error ? err.stack : err}`);
    process.exit(1);
  });
}
