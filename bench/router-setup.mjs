// The processes bench/router.mjs measures, all on 127.0.0.1 in one temp dir:
// the upstream (nginx, 1 worker, a 640-byte file on two HTTP ports and one
// HTTPS port), nginx as a proxy (2 workers, upstream keep-alive), Caddy
// (reverse_proxy, admin off, auto_https off) and Berth's router as production
// runs it (the bundle, routes from a routes.json snapshot). Tools missing are
// installed from Debian's packages (as root). Every process started here is
// stopped by pid in stopAll().
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../scripts/provision/registry.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AGENT_BIN = path.join(ROOT, 'dist', 'bin', 'berth-agent.js');
const TOOLS = { nginx: 'nginx', caddy: 'caddy', wrk: 'wrk', hey: 'hey' };
export const HOSTS = ['demo.test', 'localhost'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = [];

export function ensureTools() {
  const missing = Object.entries(TOOLS).filter(([bin]) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (missing.length === 0) return;
  const packages = missing.map(([, pkg]) => pkg);
  if (process.getuid?.() !== 0) throw new Error(`missing ${packages.join(', ')}: install them (apt-get install ${packages.join(' ')}) or run as root`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, stdio: 'inherit' }).status === 0;
  process.stderr.write(`bench: installing ${packages.join(', ')} from Debian's packages\n`);
  if (install()) return;
  spawnSync('apt-get', ['update', '-q'], { env, stdio: 'inherit' });
  if (!install()) throw new Error(`apt-get could not install ${packages.join(', ')}`);
}

async function waitForPort(port, what, child) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${child.stderrText}`);
    const open = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}: ${child.stderrText}`);
    await sleep(50);
  }
}

function startProcess(what, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  child.stderrText = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (child.stderrText = (child.stderrText + d).slice(-4000)));
  child.what = what;
  started.push(child);
  return child;
}

export async function stopAll() {
  await Promise.all(
    started.splice(0).map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
        }),
    ),
  );
}

/** A self-signed P-256 certificate for localhost, demo.test and 127.0.0.1. */
function makeCertificate(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,DNS:demo.test,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}

function nginxConf(dir, name, workers, servers) {
  return `worker_processes ${workers};
pid ${dir}/${name}.pid;
error_log ${dir}/${name}-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65s;
  client_body_temp_path ${dir}/tmp-${name};
  proxy_temp_path ${dir}/tmp-${name};
  ${servers}
}
`;
}

async function startNginx(dir, name, workers, servers, ports) {
  const file = path.join(dir, `${name}.conf`);
  fs.writeFileSync(file, nginxConf(dir, name, workers, servers));
  const child = startProcess(name, 'nginx', ['-c', file, '-p', dir, '-g', 'daemon off;']);
  for (const port of ports) await waitForPort(port, name, child);
  return child;
}

/** Everything running; `.ports` and `.pids` per row name (direct, nginx, caddy, berth). */
export async function startBench() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-router-'));
  // nginx's workers run as an unprivileged user and must read the file.
  fs.chmodSync(dir, 0o755);
  const www = path.join(dir, 'www');
  fs.mkdirSync(www, { mode: 0o755 });
  fs.writeFileSync(path.join(www, 'index.html'), 'a'.repeat(640));
  const tls = makeCertificate(dir);
  const port = {};
  for (const name of ['up', 'up2', 'upTls', 'nginx', 'nginxTls', 'caddy', 'caddyTls', 'berth', 'berthTls', 'berth2', 'berth2Tls']) port[name] = await freePort();
  const ssl = `ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key};`;
  const site = `root ${www}; location / { index index.html; }`;
  const upstream = await startNginx(dir, 'upstream', 1, `
  server { listen 127.0.0.1:${port.up}; ${site} }
  server { listen 127.0.0.1:${port.up2}; ${site} }
  server { listen 127.0.0.1:${port.upTls} ssl; ${ssl} ${site} }`, [port.up, port.up2, port.upTls]);
  const proxyLocation = `location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; proxy_set_header X-Forwarded-For $remote_addr; }`;
  const nginx = await startNginx(dir, 'nginx-proxy', 2, `
  upstream app { server 127.0.0.1:${port.up}; keepalive 64; }
  server { listen 127.0.0.1:${port.nginx}; ${proxyLocation} }
  server { listen 127.0.0.1:${port.nginxTls} ssl; ${ssl} ${proxyLocation} }`, [port.nginx, port.nginxTls]);

  const caddyHome = path.join(dir, 'caddy');
  fs.mkdirSync(caddyHome);
  const caddyfile = path.join(dir, 'Caddyfile');
  fs.writeFileSync(caddyfile, `{
  admin off
  auto_https off
}
http://:${port.caddy} {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:${port.up}
}
https://:${port.caddyTls} {
  bind 127.0.0.1
  tls ${tls.cert} ${tls.key}
  reverse_proxy 127.0.0.1:${port.up}
}
`);
  const caddyEnv = { PATH: process.env.PATH, HOME: caddyHome, XDG_DATA_HOME: caddyHome, XDG_CONFIG_HOME: caddyHome };
  const caddy = startProcess('caddy', 'caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], { env: caddyEnv });
  await waitForPort(port.caddy, 'caddy', caddy);
  await waitForPort(port.caddyTls, 'caddy', caddy);

  const berth = await startBerth(dir, port, tls);
  // The same router with two worker processes (--workers 2), beside the single process.
  const berth2 = await startBerth(dir, port, tls, 'berth2', 2);
  return {
    dir,
    port,
    pids: { direct: [upstream.pid], nginx: [nginx.pid], caddy: [caddy.pid], berth: [berth.child.pid], berth2: [berth2.child.pid] },
    berth,
    berth2,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Berth's router from the bundle; HTTPS when the router has `--https-listen` and takes the certificate over its socket. */
async function startBerth(dir, port, tls, name = 'berth', workers = 1) {
  const state = path.join(dir, name);
  fs.mkdirSync(path.join(state, 'router'), { recursive: true });
  // The route as the agent builds it for a Kamal config without `buffering:`: both ways buffered, as under kamal-proxy.
  const route = { service: 'demo', hosts: HOSTS, target: `127.0.0.1:${port.up}`, health_path: '/up', buffering: { requests: true, responses: true } };
  const routes = { version: 1, routes: [route] };
  fs.writeFileSync(path.join(state, 'router', 'routes.json'), JSON.stringify(routes));
  const socketPath = path.join(state, 'run', 'router.sock');
  const help = spawnSync(process.execPath, [AGENT_BIN, 'router', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const https = help.includes('--https-listen');
  const args = [AGENT_BIN, 'router', '--state-dir', state, '--http-listen', `127.0.0.1:${port[name]}`, '--router-socket', socketPath];
  if (https) args.push('--https-listen', `127.0.0.1:${port[`${name}Tls`]}`);
  if (workers > 1) args.push('--workers', String(workers));
  // The environment systemd/berth-router.service gives it.
  const env = { PATH: process.env.PATH, MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=4' };
  const child = startProcess(`${name} router`, process.execPath, args, { env });
  // With workers, the control socket answers once every worker listens.
  await waitForPort(port[name], `${name} router`, child);
  let httpsSkipped = https ? undefined : 'this router has no --https-listen yet';
  if (https) {
    const body = { hosts: HOSTS, cert_pem: fs.readFileSync(tls.cert, 'utf8'), key_pem: fs.readFileSync(tls.key, 'utf8') };
    // With workers the control socket appears after the ports: every worker listens first.
    let answer;
    for (let tries = 0; tries < 100; tries++) {
      answer = await control(socketPath, 'PUT', '/certificates/bench', body).catch((e) => ({ status: 0, text: e.message }));
      if (answer.status !== 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (answer.status < 200 || answer.status > 299) httpsSkipped = `PUT /certificates/bench answered ${answer.status} ${answer.text.slice(0, 200)}`;
    else await waitForPort(port[`${name}Tls`], `${name} router`, child);
  }
  let version = routes.version;
  return {
    child,
    httpsSkipped,
    /** Routes the demo hosts to `target` with the next version. */
    switchTo: async (target) => {
      version += 1;
      const answer = await control(socketPath, 'PUT', '/routes', { version, routes: [{ ...routes.routes[0], target }] });
      if (answer.status !== 200) throw new Error(`PUT /routes answered ${answer.status} ${answer.text}`);
    },
  };
}

function control(socketPath, method, pathname, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({ socketPath, method, path: pathname, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('control socket timeout')));
    req.on('error', reject);
    req.end(data);
  });
}

/** CPU seconds (user + system) of the processes and their children. */
export function cpuSeconds(pids) {
  const ticks = 100;
  const stat = (pid) => {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) };
    } catch {
      return undefined;
    }
  };
  const all = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map((p) => [Number(p), stat(p)]).filter(([, s]) => s);
  let total = 0;
  for (const [pid, s] of all) if (pids.includes(pid) || pids.includes(s.ppid)) total += s.cpu;
  return total / ticks;
}

/** RSS of `pid` and its children (a router's workers). */
export function rssBytes(pid) {
  const rss = (p) => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? NaN) * 1024;
  const children = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return Number(fs.readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^.*\) /, '').split(' ')[1]) === pid;
    } catch {
      return false;
    }
  });
  return [pid, ...children.map(Number)].reduce((total, p) => total + rss(p), 0);
}
