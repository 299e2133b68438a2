// The test registry: CNCF distribution (`docker-registry serve`) on
// 127.0.0.1:<free port>, filesystem storage kept between runs as a cache.
import fs from 'node:fs';
import net from 'node:net';
import { LIB_DIR, LOG_DIR, RUN_DIR } from './engines.mjs';
import { ourPid, startDaemon, stopDaemon, waitUntil } from './daemons.mjs';

const CONFIG = `${RUN_DIR}/registry.yml`;
const PID_FILE = `${RUN_DIR}/registry.pid`;
const ADDR_FILE = `${RUN_DIR}/registry.addr`;
const STORAGE = `${LIB_DIR}/registry`;
const LOG = `${LOG_DIR}/registry.log`;

export const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether the registry at `addr` answers /v2/ with 200 (with `headers`, e.g. a login). */
export async function registryAnswers(addr, headers = {}) {
  const res = await fetch(`http://${addr}/v2/`, { headers, signal: AbortSignal.timeout(2000) });
  await res.body?.cancel();
  return res.status === 200;
}

/** A distribution registry config: filesystem storage under `storage`, bound to `addr`, plus `extra` lines (auth). */
export function registryConfig(addr, storage, extra = []) {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    '    enabled: true',
    ...extra,
    'http:',
    `  addr: ${addr}`,
    '',
  ].join('\n');
}

/** Returns `127.0.0.1:PORT` of a running test registry, starting one if needed. */
export async function ensureRegistry(log) {
  if (ourPid(PID_FILE, CONFIG) !== null) {
    const addr = fs.existsSync(ADDR_FILE) ? fs.readFileSync(ADDR_FILE, 'utf8').trim() : '';
    if (addr && (await registryAnswers(addr).catch(() => false))) return addr;
    await stopDaemon(PID_FILE, CONFIG);
  }
  fs.mkdirSync(STORAGE, { recursive: true });
  const addr = `127.0.0.1:${await freePort()}`;
  fs.writeFileSync(CONFIG, registryConfig(addr, STORAGE));
  log(`starting registry on ${addr}`);
  const pid = startDaemon({ cmd: 'docker-registry', args: ['serve', CONFIG], logFile: LOG, pidFile: PID_FILE });
  await waitUntil('registry', () => registryAnswers(addr), { pid, logFile: LOG, timeoutMs: 30_000 });
  fs.writeFileSync(ADDR_FILE, `${addr}\n`);
  return addr;
}

export async function stopRegistry(log) {
  if (await stopDaemon(PID_FILE, CONFIG)) log('stopped registry');
  fs.rmSync(ADDR_FILE, { force: true });
}

/** The image config JSON of REPO:TAG, or null when the registry lacks the tag. */
export async function imageConfig(registry, repo, tag) {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, { headers: { Accept: MANIFEST_ACCEPT } });
  if (res.status === 404) {
    await res.body?.cancel();
    return null;
  }
  if (!res.ok) throw new Error(`registry answered ${res.status} for ${repo}:${tag}`);
  const manifest = await res.json();
  const digest = manifest?.config?.digest;
  if (typeof digest !== 'string') return null;
  const blob = await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`);
  if (!blob.ok) {
    await blob.body?.cancel();
    return null;
  }
  return blob.json();
}
