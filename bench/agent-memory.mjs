#!/usr/bin/env node
// The agent's memory over many pushes: a real agent + router on test engine 1,
// N pushes alternating web:v1 and web:v2 (each a real switch; retain_containers
// removes the old ones), and at checkpoints the agent's VmRSS and its V8 heap
// after forced full GCs. Tells a leak (heap after GC growing with pushes) from
// capacity the agent keeps (V8's young generation, malloc arenas, SQLite's page
// cache: RSS that swings or plateaus while the heap after GC stays flat).
//   npm run build && node bench/agent-memory.mjs [pushes] [--every 25] [--idle 120]
//                                    [--snapshots 0,200] [--out DIR] [--env K=V] [--node-option=OPT]
// Heap snapshots land in --out; compare two with bench/heap-diff.mjs.
// --env K=V (repeatable) is added to the agent's environment, e.g. MALLOC_ARENA_MAX=2;
// --node-option=OPT (repeatable) to its NODE_OPTIONS, e.g. --node-option=--max-semi-space-size=2.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { envVars, provision, teardown } from '../scripts/provision-test-env.mjs';

const PROBE = path.join(import.meta.dirname, 'agent-probe.cjs');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = (bytes) => (bytes / 1048576).toFixed(1);

function procStatus(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), hwm: kb('VmHWM') };
}

/**
 * RSS of glibc's malloc arenas: the main one ([heap], brk) and the thread
 * arenas, which are 64 MiB-aligned mmaps of exactly 64 MiB (the used part
 * read-write, the rest PROT_NONE). The rest of the anonymous RSS is mostly V8's heap.
 */
function mallocRss(pid) {
  const maps = [];
  let cur;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      cur = { start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perms: m[3], name: m[4], rss: 0 };
      maps.push(cur);
    } else if (cur && line.startsWith('Rss:')) cur.rss = Number(/(\d+)/.exec(line)[1]) * 1024;
  }
  const ARENA = 64n * 1024n * 1024n;
  let main = 0;
  let threads = 0;
  let arenas = 0;
  maps.forEach((m, i) => {
    if (m.name === '[heap]') main += m.rss;
    const next = maps[i + 1];
    if (m.name === '' && m.perms.startsWith('rw') && m.start % ARENA === 0n &&
        ((next && next.start === m.end && next.perms.startsWith('---') && next.end - m.start === ARENA) || m.end - m.start === ARENA)) {
      threads += m.rss;
      arenas += 1;
    }
  });
  return { main, threads, arenas };
}

/** Asks the preloaded probe for GC'd numbers (and maybe a heap snapshot); bounded wait. */
async function probe(pid, dir, n, snapshot) {
  const result = path.join(dir, `result-${n}.json`);
  fs.writeFileSync(path.join(dir, 'request.json'), JSON.stringify({ n, snapshot }));
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(result)) {
    if (Date.now() > deadline) throw new Error(`the agent's memory probe did not answer for checkpoint ${n}`);
    await sleep(100);
  }
  return JSON.parse(fs.readFileSync(result, 'utf8'));
}

function renderTable(rows) {
  // Before GC: as the agent left it. After GC: what the agent still holds.
  const header = ['pushes', 'RSS MiB', 'heapTotal', 'new space', 'RSS after GC', 'heapUsed after GC', 'heapTotal after GC',
    'external', 'malloc main', 'malloc threads', 'db', 'router RSS', 'handles'];
  const cells = rows.map((r) => [
    r.label, MiB(r.before.rss), MiB(r.probe.before.memoryUsage.heapTotal), MiB(r.probe.before.spaces.new_space.size),
    MiB(r.after.rss), MiB(r.probe.memoryUsage.heapUsed), MiB(r.probe.memoryUsage.heapTotal), MiB(r.probe.memoryUsage.external),
    MiB(r.malloc.main), `${MiB(r.malloc.threads)} (${r.malloc.arenas})`, MiB(r.db), MiB(r.router.rss),
    Object.entries(r.probe.resources).map(([k, v]) => `${k}:${v}`).join(' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((v, i) => (i === c.length - 1 ? v : v.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      every: { type: 'string', default: '25' },
      idle: { type: 'string', default: '120' },
      snapshots: { type: 'string', default: '' },
      out: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      'node-option': { type: 'string', multiple: true, default: [] },
    },
  });
  const pushes = Number(positionals[0] ?? 200);
  const every = Number(values.every);
  const idleS = Number(values.idle);
  if (!Number.isInteger(pushes) || pushes < 1 || pushes > 5000) throw new Error('pushes must be 1..5000');
  if (!Number.isInteger(every) || every < 1) throw new Error('--every must be a positive integer');
  if (!Number.isFinite(idleS) || idleS < 0) throw new Error('--idle must be seconds >= 0');
  // Off by default: writing a snapshot costs the agent ~75 MiB of RSS that stays,
  // so RSS figures from a run with snapshots are not comparable.
  const snapshotAt = new Set(values.snapshots.split(',').filter(Boolean).map(Number));
  const out = values.out ?? fs.mkdtempSync(path.join(os.tmpdir(), 'berth-agent-memory-'));
  fs.mkdirSync(out, { recursive: true });
  const extraEnv = Object.fromEntries(values.env.map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--env wants K=V, got ${kv}`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  }));

  const env = await provision();
  Object.assign(process.env, envVars(env));
  // Compiled test support: the same agent/router/CLI setup the e2e suite uses.
  const { setupApp } = await import('../dist/test/support/e2e-app.js');
  const agentEnv = {
    NODE_OPTIONS: [...values['node-option'], '--expose-gc', '--require', PROBE].join(' '),
    BERTH_MEMORY_PROBE_DIR: out,
    ...extraEnv,
  };
  let app;
  const rows = [];
  try {
    app = await setupApp('memb', { agentEnv });
    const host = app.hosts[0];
    const agentPid = host.agent.pid;
    const routerPid = host.router.pid;
    const checkpoint = async (label, n) => {
      const before = procStatus(agentPid);
      const p = await probe(agentPid, out, n, snapshotAt.has(n));
      const db = fs.statSync(path.join(host.stateDir, 'berth.db')).size;
      const row = { label, n, before, after: procStatus(agentPid), malloc: mallocRss(agentPid), db, probe: p, router: procStatus(routerPid), at: Date.now() };
      rows.push(row);
      console.error(`[agent-memory] ${label}: RSS ${MiB(before.rss)} MiB, heapUsed ${MiB(p.memoryUsage.heapUsed)} MiB${p.snapshot ? `, snapshot ${p.snapshot}` : ''}`);
    };

    await checkpoint('0', 0);
    const started = Date.now();
    for (let i = 1; i <= pushes; i++) {
      const tag = i % 2 === 1 ? 'v2' : 'v1';
      app.configure(tag);
      const r = await app.push(`m${i}-${Date.now()}`);
      if (r.code !== 0) throw new Error(`push ${i} failed (exit ${r.code}): ${r.stderr}\n--- agent log (tail)\n${host.agentLog().slice(-3000)}`);
      if (i % every === 0 || i === pushes) await checkpoint(String(i), i);
    }
    const pushMs = Date.now() - started;
    if (idleS > 0) {
      await sleep(idleS * 1000);
      await checkpoint(`idle ${idleS}s`, pushes + 1);
    }
    const table = renderTable(rows);
    const summary = `${pushes} pushes in ${(pushMs / 1000).toFixed(0)} s (${(pushMs / pushes / 1000).toFixed(1)} s each); ` +
      `agent env ${JSON.stringify(extraEnv)}, node options ${JSON.stringify(values['node-option'])}; output in ${out}`;
    fs.writeFileSync(path.join(out, 'checkpoints.json'), JSON.stringify({ pushes, extraEnv, rows }, null, 2));
    fs.writeFileSync(path.join(out, 'table.txt'), `${table}\n${summary}\n`);
    process.stdout.write(`${table}\n${summary}\n`);
  } finally {
    await app?.teardown();
    if (process.env.BERTH_TEST_KEEP !== '1') await teardown();
  }
}

main().catch((err) => {
  console.error(`agent-memory: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
