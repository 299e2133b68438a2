// Three dedicated test Docker engines (three servers in e2e tests), each with
// its own bridge, data root, exec root, socket and its own containerd. The system engine
// (/var/run/docker.sock) is never used or touched.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import {
  killAll, ourPid, processesWith, startDaemon, stopDaemon, unixSocketAccepts, waitUntil,
} from './daemons.mjs';

export const RUN_DIR = '/run/berth-test';
export const LIB_DIR = '/var/lib/berth-test';
export const LOG_DIR = '/var/log/berth-test';

export const ENGINES = [1, 2, 3].map((n) => ({
  n,
  name: `engine${n}`,
  host: `unix://${RUN_DIR}/engine${n}.sock`,
  socket: `${RUN_DIR}/engine${n}.sock`,
  bridge: `btest${n}`,
  bridgeCidr: `10.124.${n}.1/24`,
  // The subnet the agent using this engine gives its `berth` network: both
  // engines would otherwise hand out the same addresses on different bridges.
  subnet: `10.125.${n}.0/24`,
  // Networks created without a subnet come from a pool of their own too.
  addressPool: `base=10.126.${n * 16}.0/20,size=24`,
  dataRoot: `${LIB_DIR}/engine${n}`,
  execRoot: `${RUN_DIR}/engine${n}`,
  pidFile: `${RUN_DIR}/engine${n}.pid`,
  daemonConfig: `${RUN_DIR}/engine${n}.json`,
  log: `${LOG_DIR}/engine${n}.log`,
  containerd: {
    root: `${LIB_DIR}/containerd${n}`,
    state: `${RUN_DIR}/containerd${n}`,
    socket: `${RUN_DIR}/containerd${n}/containerd.sock`,
    config: `${RUN_DIR}/containerd${n}.toml`,
    pidFile: `${RUN_DIR}/containerd${n}.pid`,
    log: `${LOG_DIR}/containerd${n}.log`,
  },
}));

export function docker(host, args, { env, input } = {}) {
  const r = spawnSync('docker', ['-H', host, ...args], {
    encoding: 'utf8',
    input,
    env: { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false', ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? 1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function engineAnswers(engine) {
  return Promise.resolve(docker(engine.host, ['version', '--format', '{{.Server.Version}}']).code === 0);
}

function ensureBridge(engine) {
  const shown = spawnSync('ip', ['-o', 'addr', 'show', 'dev', engine.bridge], { encoding: 'utf8' });
  if (shown.status !== 0) execFileSync('ip', ['link', 'add', engine.bridge, 'type', 'bridge']);
  if (!(shown.stdout ?? '').includes(` ${engine.bridgeCidr} `)) {
    execFileSync('ip', ['addr', 'add', engine.bridgeCidr, 'dev', engine.bridge]);
  }
  execFileSync('ip', ['link', 'set', engine.bridge, 'up']);
}

function containerdConfig(c) {
  // The CRI plugin is off: it would want CNI and is not what dockerd uses.
  return [
    'version = 2',
    `root = "${c.root}"`,
    `state = "${c.state}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${c.socket}"`,
    '[ttrpc]',
    `  address = "${c.socket}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
}

async function ensureContainerd(engine, log) {
  const c = engine.containerd;
  if (ourPid(c.pidFile, c.config) !== null && (await unixSocketAccepts(c.socket))) return false;
  fs.mkdirSync(c.root, { recursive: true });
  fs.mkdirSync(c.state, { recursive: true });
  fs.writeFileSync(c.config, containerdConfig(c));
  log(`starting containerd for ${engine.name}`);
  const pid = startDaemon({ cmd: 'containerd', args: ['--config', c.config], logFile: c.log, pidFile: c.pidFile });
  await waitUntil(`containerd of ${engine.name}`, () => unixSocketAccepts(c.socket), { pid, logFile: c.log });
  return true;
}

async function ensureDockerd(engine, log) {
  if (ourPid(engine.pidFile, engine.socket) !== null && (await engineAnswers(engine))) return false;
  // dockerd refuses to start while its pid file names a live process, and a
  // killed engine's pid may belong to another process by now.
  if (ourPid(engine.pidFile, engine.socket) === null) fs.rmSync(engine.pidFile, { force: true });
  fs.mkdirSync(engine.dataRoot, { recursive: true });
  fs.mkdirSync(engine.execRoot, { recursive: true });
  // Our own daemon.json so the host's /etc/docker/daemon.json (hosts, bridge,
  // mirrors ...) cannot leak into the test engines; and our own key, hence our
  // own engine ID (the default /etc/docker/key.json gives every engine on the
  // machine the same ID).
  fs.writeFileSync(engine.daemonConfig, `${JSON.stringify({ 'deprecated-key-path': `${engine.dataRoot}/key.json` })}\n`);
  log(`starting dockerd ${engine.name} on ${engine.host}`);
  const pid = startDaemon({
    cmd: 'dockerd',
    args: [
      '--config-file', engine.daemonConfig,
      '--host', engine.host,
      '--data-root', engine.dataRoot,
      '--exec-root', engine.execRoot,
      '--pidfile', engine.pidFile,
      '--containerd', engine.containerd.socket,
      '--bridge', engine.bridge,
      '--default-address-pool', engine.addressPool,
      '--iptables=false',
      '--ip-masq=false',
      '--log-level', 'warn',
    ],
    logFile: engine.log,
  });
  await waitUntil(`dockerd ${engine.name}`, () => engineAnswers(engine), { pid, logFile: engine.log });
  return true;
}

export async function startEngines(log) {
  fs.mkdirSync(RUN_DIR, { recursive: true });
  fs.mkdirSync(LOG_DIR, { recursive: true });
  for (const engine of ENGINES) {
    ensureBridge(engine);
    await ensureContainerd(engine, log);
    await ensureDockerd(engine, log);
  }
}

/** Containers a previous run left behind (these engines are ours alone). */
export function removeLeftovers(log) {
  for (const engine of ENGINES) {
    const ids = new Set();
    for (const label of ['berth.service', 'berth.test']) {
      const r = docker(engine.host, ['ps', '-aq', '--filter', `label=${label}`]);
      if (r.code !== 0) throw new Error(`listing containers on ${engine.name} failed: ${r.stderr.trim()}`);
      for (const id of r.stdout.split('\n')) if (id.trim()) ids.add(id.trim());
    }
    if (ids.size === 0) continue;
    log(`removing ${ids.size} leftover container(s) on ${engine.name}`);
    const r = docker(engine.host, ['rm', '-f', '-v', ...ids]);
    if (r.code !== 0) throw new Error(`removing leftovers on ${engine.name} failed: ${r.stderr.trim()}`);
  }
}

export async function stopEngines(log) {
  for (const engine of ENGINES) {
    // dockerd stops its containers on SIGTERM (no live-restore); give it time.
    if (await stopDaemon(engine.pidFile, engine.socket, { timeoutMs: 60_000 })) log(`stopped dockerd ${engine.name}`);
  }
  for (const engine of ENGINES) {
    const c = engine.containerd;
    if (await stopDaemon(c.pidFile, c.config)) log(`stopped containerd of ${engine.name}`);
    // Shims outlive containerd by design; any left are ours (they name our socket).
    const shims = processesWith(c.socket);
    if (shims.length > 0) {
      log(`killing ${shims.length} leftover shim(s) of ${engine.name}`);
      await killAll(shims);
    }
  }
}
