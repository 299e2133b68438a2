// The second test registry: like the first, but every request needs a login
// (htpasswd, bcrypt), as a private registry does. Its own port, storage, pid
// and config. The login is random per start and kept (0600) beside the pid
// file, so a reused registry keeps its password. The test images v1 and v2
// are copied into it from the open registry, pushed through a throwaway
// DOCKER_CONFIG so no credentials are left in ~/.docker.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ourPid, startDaemon, stopDaemon, waitUntil } from './daemons.mjs';
import { LIB_DIR, LOG_DIR, RUN_DIR, docker } from './engines.mjs';
import { IMAGE_REPO } from './images.mjs';
import { MANIFEST_ACCEPT, freePort, imageConfig, registryAnswers, registryConfig } from './registry.mjs';

const CONFIG = `${RUN_DIR}/auth-registry.yml`;
const PID_FILE = `${RUN_DIR}/auth-registry.pid`;
const ADDR_FILE = `${RUN_DIR}/auth-registry.addr`;
const LOGIN_FILE = `${RUN_DIR}/auth-registry.login.json`;
const HTPASSWD = `${RUN_DIR}/auth-registry.htpasswd`;
const STORAGE = `${LIB_DIR}/auth-registry`;
const LOG = `${LOG_DIR}/auth-registry.log`;
const USERNAME = 'berth-test';
export const AUTH_IMAGE_NAMES = ['v1', 'v2'];
const HASH_LABEL = 'berth.test.context';

const basic = ({ username, password }) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

const answers = (addr, login) => registryAnswers(addr, { Authorization: basic(login) });

const config = (addr) =>
  registryConfig(addr, STORAGE, ['auth:', '  htpasswd:', '    realm: berth-test', `    path: ${HTPASSWD}`]);

function readLogin() {
  try {
    const login = JSON.parse(fs.readFileSync(LOGIN_FILE, 'utf8'));
    return typeof login?.username === 'string' && typeof login?.password === 'string' ? login : null;
  } catch {
    return null;
  }
}

function writeLogin() {
  const login = { username: USERNAME, password: crypto.randomBytes(18).toString('base64url') };
  // bcrypt, as distribution requires; the password goes on stdin, not argv.
  const line = execFileSync('htpasswd', ['-Bin', login.username], { input: `${login.password}\n`, encoding: 'utf8' });
  fs.writeFileSync(HTPASSWD, line, { mode: 0o600 });
  fs.writeFileSync(LOGIN_FILE, `${JSON.stringify(login)}\n`, { mode: 0o600 });
  return login;
}

/** Returns `{ address, username, password }` of a running auth registry, starting one if needed. */
export async function ensureAuthRegistry(log) {
  const known = readLogin();
  if (ourPid(PID_FILE, CONFIG) !== null) {
    const addr = fs.existsSync(ADDR_FILE) ? fs.readFileSync(ADDR_FILE, 'utf8').trim() : '';
    if (addr && known && (await answers(addr, known).catch(() => false))) return { address: addr, ...known };
    await stopDaemon(PID_FILE, CONFIG);
  }
  fs.mkdirSync(STORAGE, { recursive: true });
  const login = writeLogin();
  const addr = `127.0.0.1:${await freePort()}`;
  fs.writeFileSync(CONFIG, config(addr));
  log(`starting registry with htpasswd auth on ${addr}`);
  const pid = startDaemon({ cmd: 'docker-registry', args: ['serve', CONFIG], logFile: LOG, pidFile: PID_FILE });
  await waitUntil('auth registry', () => answers(addr, login), { pid, logFile: LOG, timeoutMs: 30_000 });
  fs.writeFileSync(ADDR_FILE, `${addr}\n`);
  return { address: addr, ...login };
}

export async function stopAuthRegistry(log) {
  if (await stopDaemon(PID_FILE, CONFIG)) log('stopped auth registry');
  fs.rmSync(ADDR_FILE, { force: true });
}

/** The build-context label of REPO:TAG in the auth registry, or null. */
async function authImageLabel(reg, tag) {
  const headers = { Authorization: basic(reg), Accept: MANIFEST_ACCEPT };
  const res = await fetch(`http://${reg.address}/v2/${IMAGE_REPO}/manifests/${tag}`, { headers });
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status === 404) return null;
    throw new Error(`auth registry answered ${res.status} for ${IMAGE_REPO}:${tag}`);
  }
  const digest = (await res.json())?.config?.digest;
  if (typeof digest !== 'string') return null;
  const blob = await fetch(`http://${reg.address}/v2/${IMAGE_REPO}/blobs/${digest}`, { headers: { Authorization: basic(reg) } });
  if (!blob.ok) {
    await blob.body?.cancel();
    return null;
  }
  return (await blob.json())?.config?.Labels?.[HASH_LABEL] ?? null;
}

function run(host, args, what, opts) {
  const r = docker(host, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
}

/**
 * Copies v1 and v2 from the open registry into the auth registry unless it
 * already holds the same builds; returns `{ v1, v2 }` tag references.
 */
export async function ensureAuthImages({ openRegistry, authRegistry, engineHost, log }) {
  const refs = {};
  const stale = [];
  for (const name of AUTH_IMAGE_NAMES) {
    refs[name] = `${authRegistry.address}/${IMAGE_REPO}:${name}`;
    const want = (await imageConfig(openRegistry, IMAGE_REPO, name))?.config?.Labels?.[HASH_LABEL];
    if (!want) throw new Error(`test image ${IMAGE_REPO}:${name} is missing from ${openRegistry}`);
    if ((await authImageLabel(authRegistry, name)) !== want) stale.push(name);
  }
  if (stale.length === 0) return refs;

  log(`copying test images into the auth registry: ${stale.join(', ')}`);
  const dockerConfig = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-docker-config-'));
  const env = { DOCKER_CONFIG: dockerConfig };
  const pulled = [];
  try {
    run(engineHost, ['login', '--username', authRegistry.username, '--password-stdin', authRegistry.address], 'docker login to the auth registry', {
      env,
      input: authRegistry.password,
    });
    for (const name of stale) {
      const source = `${openRegistry}/${IMAGE_REPO}:${name}`;
      pulled.push(source, refs[name]);
      run(engineHost, ['pull', '-q', source], `pulling ${source}`, { env });
      run(engineHost, ['tag', source, refs[name]], `tagging ${refs[name]}`, { env });
      run(engineHost, ['push', '-q', refs[name]], `pushing ${refs[name]}`, { env });
    }
  } finally {
    docker(engineHost, ['logout', authRegistry.address], { env });
    fs.rmSync(dockerConfig, { recursive: true, force: true });
    // Agents must pull: leave no test image behind on the engine.
    for (const ref of pulled) docker(engineHost, ['rmi', '-f', ref]);
  }
  return refs;
}
