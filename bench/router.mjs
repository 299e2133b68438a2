#!/usr/bin/env node
// The router's throughput against nginx and Caddy, all proxying to the same
// upstream (nginx serving a 640-byte file on loopback; bench/router-setup.mjs),
// Berth both as one process and with --workers 2, printed as markdown:
//  1. req/s, p50/p99 (wrk -t2 -c32) through each proxy and direct, with client
//     keep-alive and with a new connection per request (`Connection: close`),
//     over HTTP and HTTPS; rows interleaved over the repetitions, medians; CPU
//     per request of each proxy (its processes' utime+stime over the run);
//  2. latency at half of Berth's measured maximum (hey, paced), added over direct;
//  3. failed requests and the router's RSS over 50 route switches under load.
// Other work on the machine moves single rows; ratios within one run hold better.
//   npm run bench:router     (builds first)   node bench/router.mjs [--duration 4] [--reps 3]
// Also printed by `npm run bench` after its table.
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import { parseArgs } from 'node:util';
import { cpuSeconds, ensureTools, rssBytes, startBench, stopAll } from './router-setup.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PROXIES = ['direct', 'nginx', 'caddy', 'berth', 'berth2'];
const LABEL = {
  direct: 'direct, no proxy', nginx: 'nginx, 2 workers, upstream keep-alive', caddy: 'Caddy reverse_proxy', berth: 'Berth router', berth2: 'Berth router, 2 workers',
};
const MODES = [
  { proto: 'HTTP', close: false },
  { proto: 'HTTP', close: true },
  { proto: 'HTTPS', close: false },
  { proto: 'HTTPS', close: true },
];
const HALF_LOAD_WORKERS = 8;

function run(command, args) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${command}: ${err.message} ${stderr}`)) : resolve(stdout)));
  });
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** wrk's latency ("512.00us", "1.20ms", "1.01s") in ms. */
function wrkMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
}

function parseWrk(out) {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    p50: wrkMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1]),
    p99: wrkMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1]),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const PORTS = { direct: ['up', 'upTls'], nginx: ['nginx', 'nginxTls'], caddy: ['caddy', 'caddyTls'], berth: ['berth', 'berthTls'], berth2: ['berth2', 'berth2Tls'] };

function target(bench, proxy, proto) {
  const port = bench.port[PORTS[proxy][proto === 'HTTPS' ? 1 : 0]];
  // SNI and Host are both localhost over HTTPS; over HTTP the Host header names the route.
  return proto === 'HTTPS' ? { url: `https://localhost:${port}/`, host: [] } : { url: `http://127.0.0.1:${port}/`, host: ['-H', 'Host: demo.test'] };
}

/** wrk counts 3xx as success: make sure each row serves the file itself (a redirect would be measured as an answer). */
function checkServes(bench, proxy, proto) {
  const { url } = target(bench, proxy, proto);
  const client = proto === 'HTTPS' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers: { host: proto === 'HTTPS' ? 'localhost' : 'demo.test' }, rejectUnauthorized: false }, (res) => {
      let bytes = 0;
      res.on('data', (d) => (bytes += d.length));
      res.on('end', () => (res.statusCode === 200 && bytes === 640 ? resolve() : reject(new Error(`${proxy} ${proto} answered ${res.statusCode} with ${bytes} bytes`))));
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`${proxy} ${proto}: no answer`)));
    req.on('error', reject);
  });
}

async function wrk(bench, proxy, mode, seconds) {
  const { url, host } = target(bench, proxy, mode.proto);
  const args = ['-t2', '-c32', `-d${seconds}s`, '--latency', ...host, ...(mode.close ? ['-H', 'Connection: close'] : []), url];
  const pids = bench.pids[proxy];
  const cpuBefore = cpuSeconds(pids);
  const result = parseWrk(await run('wrk', args));
  result.cpuUsPerRequest = proxy === 'direct' ? NaN : ((cpuSeconds(pids) - cpuBefore) * 1e6) / result.requests;
  return result;
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');

async function throughput(bench, reps, seconds) {
  const cells = [];
  for (const mode of MODES) {
    for (const proxy of PROXIES) {
      const skipped = proxy.startsWith('berth') && mode.proto === 'HTTPS' ? bench[proxy].httpsSkipped : undefined;
      cells.push({ proxy, mode, skipped, samples: [] });
    }
  }
  for (const cell of cells) if (!cell.skipped && !cell.mode.close) await checkServes(bench, cell.proxy, cell.mode.proto);
  for (let rep = 0; rep < reps; rep++) {
    for (const cell of cells) {
      if (cell.skipped) continue;
      cell.samples.push(await wrk(bench, cell.proxy, cell.mode, seconds));
      await sleep(300);
    }
  }
  const lines = [
    '| protocol | connections | proxy | req/s (median) | reps | p50 ms | p99 ms | CPU µs/req | Berth ÷ this | Berth 2 workers ÷ this | failed |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const skippedNotes = new Set();
  const berthMax = {};
  for (const mode of MODES) {
    const group = cells.filter((c) => c.mode === mode);
    const berth = median(group.find((c) => c.proxy === 'berth').samples.map((s) => s.rps));
    const berth2 = median(group.find((c) => c.proxy === 'berth2').samples.map((s) => s.rps));
    berthMax[`${mode.proto}/${mode.close}`] = berth;
    for (const cell of group) {
      const conn = mode.close ? 'new per request' : 'keep-alive';
      if (cell.skipped) {
        lines.push(`| ${mode.proto} | ${conn} | ${LABEL[cell.proxy]} | skipped | | | | | | | |`);
        skippedNotes.add(`Berth HTTPS rows skipped: ${cell.skipped}.`);
        continue;
      }
      const rps = median(cell.samples.map((s) => s.rps));
      const failed = cell.samples.reduce((a, s) => a + s.non2xx + s.socketErrors, 0);
      lines.push(
        `| ${mode.proto} | ${conn} | ${LABEL[cell.proxy]} | ${fmt(rps)} | ${cell.samples.map((s) => fmt(s.rps)).join(' / ')} | ` +
          `${fmt(median(cell.samples.map((s) => s.p50)), 2)} | ${fmt(median(cell.samples.map((s) => s.p99)), 2)} | ` +
          `${fmt(median(cell.samples.map((s) => s.cpuUsPerRequest)))} | ${fmt(berth / rps, 2)} | ${fmt(berth2 / rps, 2)} | ${failed} |`,
      );
    }
  }
  return { table: `${lines.join('\n')}\n${[...skippedNotes].map((n) => `\n${n}\n`).join('')}`, berthMax: berthMax['HTTP/false'] };
}

function parseHey(out) {
  const at = (q) => Number(new RegExp(`^\\s+${q}% in ([\\d.]+) secs`, 'm').exec(out)?.[1] ?? NaN) * 1000;
  const statuses = [...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)];
  const errors = /Error distribution:\n([\s\S]*)$/.exec(out)?.[1] ?? '';
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: at(50),
    p99: at(99),
    failed: statuses.filter(([, code]) => !code.startsWith('2')).reduce((a, [, , n]) => a + Number(n), 0) + [...errors.matchAll(/\[(\d+)\]/g)].reduce((a, m) => a + Number(m[1]), 0),
  };
}

async function halfLoad(bench, berthMax) {
  const rate = Math.max(HALF_LOAD_WORKERS, Math.round(berthMax / 2));
  const perWorker = Math.max(1, Math.round(rate / HALF_LOAD_WORKERS));
  const rows = {};
  for (const proxy of PROXIES) {
    const { url } = target(bench, proxy, 'HTTP');
    rows[proxy] = parseHey(await run('hey', ['-z', '10s', '-c', String(HALF_LOAD_WORKERS), '-q', String(perWorker), '-host', 'demo.test', url]));
    await sleep(300);
  }
  const lines = [
    `Paced at ${fmt(perWorker * HALF_LOAD_WORKERS)} req/s (half of Berth's ${fmt(berthMax)}): \`hey -z 10s -c ${HALF_LOAD_WORKERS} -q ${perWorker}\`, HTTP keep-alive.`,
    '',
    '| proxy | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | failed |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const proxy of PROXIES) {
    const r = rows[proxy];
    const added = (k) => (proxy === 'direct' ? '–' : fmt(r[k] - rows.direct[k], 2));
    lines.push(`| ${LABEL[proxy]} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${added('p50')} | ${added('p99')} | ${r.failed} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function switches(bench, count, proxy = 'berth') {
  const pid = bench.pids[proxy][0];
  const targets = [`127.0.0.1:${bench.port.up2}`, `127.0.0.1:${bench.port.up}`];
  const gapMs = 100;
  const seconds = Math.ceil((count * gapMs) / 1000) + 3;
  const { url, host } = target(bench, proxy, 'HTTP');
  const wrkArgs = ['-t2', '-c32', `-d${seconds}s`, ...host, url];
  // The same load without switches first: RSS before is the heap's high-water under this load, so the difference is the switches'.
  await run('wrk', wrkArgs);
  const rssBefore = rssBytes(pid);
  const round = async () => {
    const load = run('wrk', wrkArgs);
    await sleep(1_000);
    for (let i = 0; i < count; i++) {
      await bench[proxy].switchTo(targets[i % 2]);
      await sleep(gapMs);
    }
    return { ...parseWrk(await load), rss: rssBytes(pid) };
  };
  // A second round shows whether memory settles or keeps growing with switches.
  const first = await round();
  const second = await round();
  const MiB = (b) => (b / 1048576).toFixed(1);
  return (
    `${count} route switches (alternating between two upstream ports, every ${gapMs} ms) under \`wrk -t2 -c32 -d${seconds}s\` through ${LABEL[proxy]}: ` +
    `${fmt(first.requests)} requests, **${first.non2xx} non-2xx, ${first.socketErrors} socket errors** ` +
    `(another ${count}: ${second.non2xx} non-2xx, ${second.socketErrors} socket errors of ${fmt(second.requests)}). ` +
    `Router RSS ${MiB(rssBefore)} MiB after the same load without switches, ${MiB(first.rss)} MiB after ${count} switches, ${MiB(second.rss)} MiB after ${2 * count}.\n`
  );
}

export async function routerBench({ reps = 3, seconds = 4 } = {}) {
  ensureTools();
  const bench = await startBench().catch(async (err) => {
    await stopAll();
    throw err;
  });
  try {
    const started = Date.now();
    const { table, berthMax } = await throughput(bench, reps, seconds);
    const half = await halfLoad(bench, berthMax);
    const switched = `${await switches(bench, 50)}\n${await switches(bench, 50, 'berth2')}`;
    const load = (await run('uptime', [])).trim();
    return (
      `## Router throughput (wrk -t2 -c32 -d${seconds}s, ${reps} repetitions interleaved, medians)\n\n${table}\n` +
      `### Latency at half load\n\n${half}\n### Switches under load\n\n${switched}\n` +
      `Machine: ${load}; bench took ${Math.round((Date.now() - started) / 1000)} s.\n`
    );
  } finally {
    await stopAll();
    bench.remove();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '3' }, duration: { type: 'string', default: '4' } } });
  routerBench({ reps: Number(values.reps), seconds: Number(values.duration) }).then(
    (text) => process.stdout.write(text),
    async (err) => {
      await stopAll();
      console.error(`bench router: ${err instanceof Error ? err.message : err}`);
      process.exit(1);
    },
  );
}
