// The PostgreSQL test image (test-images/postgres), for backup tests of a real
// database accessory. Its base, local/debian:bookworm, comes from debootstrap
// (no image can be pulled here) and stays on engine 1 as a per-machine cache.
// Like the web image it is built on engine 1, pushed to the test registry and
// removed from the engine, and rebuilt only when its build context changed
// (hash label). Provisioned only for runs that include a test importing
// test/support/postgres.js: a fresh machine pays about 80 s once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { docker } from './engines.mjs';
import { imageConfig } from './registry.mjs';

export const POSTGRES_REPO = 'berth-test/postgres';
export const POSTGRES_TAG = '15';
export const DEBIAN_BASE = 'local/debian:bookworm';
const HASH_LABEL = 'berth.test.context';
const SUITE = 'bookworm';

function run(host, args, what, opts) {
  const r = docker(host, args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function contextHash(dir) {
  const hash = crypto.createHash('sha256');
  for (const name of fs.readdirSync(dir).sort()) {
    hash.update(`${name}\0`).update(fs.readFileSync(path.join(dir, name))).update('\0');
  }
  return hash.digest('hex');
}

/** Debian mirror URIs carrying `suite` main, from the host's apt sources (one-line and deb822 formats). */
export function aptMirrors(suite = SUITE, files = sourceFiles()) {
  const found = [];
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name) => stanza.match(new RegExp(`^${name}:\\s*(.+)$`, 'mi'))?.[1].trim().split(/\s+/) ?? [];
        if (field('Types').includes('deb') && field('Suites').includes(suite) && field('Components').includes('main')) {
          found.push(...field('URIs'));
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const words = line.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
        if (words[0] === 'deb' && words[2] === suite && words.slice(3).includes('main')) found.push(words[1]);
      }
    }
  }
  return found.filter((uri) => /^https?:\/\//.test(uri));
}

function sourceFiles() {
  const files = ['/etc/apt/sources.list'].filter((f) => fs.existsSync(f));
  const dir = '/etc/apt/sources.list.d';
  if (fs.existsSync(dir)) {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.endsWith('.list') || name.endsWith('.sources')) files.push(path.join(dir, name));
    }
  }
  return files;
}

/** Imports local/debian:bookworm into the engine from a fresh debootstrap, unless it is there. */
export function ensureDebianBase(engineHost, log) {
  if (docker(engineHost, ['image', 'inspect', '--format', '{{.Id}}', DEBIAN_BASE]).code === 0) return;
  const [mirror] = aptMirrors();
  if (!mirror) throw new Error(`no Debian ${SUITE} mirror (deb, main) in /etc/apt/sources*: debootstrap needs one`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-debootstrap-'));
  try {
    log(`debootstrap --variant=minbase ${SUITE} from ${mirror}`);
    const started = Date.now();
    const boot = spawnSync('debootstrap', ['--variant=minbase', SUITE, dir, mirror], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (boot.status !== 0) {
      throw new Error(`debootstrap failed (exit ${boot.status}):\n${(boot.stderr || boot.stdout || String(boot.error)).trim().split('\n').slice(-20).join('\n')}`);
    }
    const tar = spawnSync('tar', ['-C', dir, '-c', '.'], { maxBuffer: 2 * 1024 * 1024 * 1024 });
    if (tar.status !== 0) throw new Error(`tar of the debootstrap tree failed: ${String(tar.stderr)}`);
    run(engineHost, ['import', '-', DEBIAN_BASE], `docker import ${DEBIAN_BASE}`, { input: tar.stdout });
    log(`imported ${DEBIAN_BASE} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Ensures REGISTRY/berth-test/postgres:15 is built from the current context; returns the ref. */
export async function ensurePostgresImage({ root, registry, engineHost, log }) {
  const context = path.join(root, 'test-images', 'postgres');
  const ref = `${registry}/${POSTGRES_REPO}:${POSTGRES_TAG}`;
  const want = contextHash(context);
  if ((await imageConfig(registry, POSTGRES_REPO, POSTGRES_TAG))?.config?.Labels?.[HASH_LABEL] === want) return ref;

  ensureDebianBase(engineHost, log);
  log(`building ${POSTGRES_REPO}:${POSTGRES_TAG} (apt-get install postgresql)`);
  const started = Date.now();
  try {
    // Host networking: the test engines' bridges do no masquerading, and apt needs the mirror.
    run(engineHost, ['build', '-q', '--network', 'host', '-t', ref, '--label', `${HASH_LABEL}=${want}`, context], `building ${POSTGRES_REPO}`);
    run(engineHost, ['push', ref], `pushing ${ref}`);
  } finally {
    // Agents must pull: leave no test image behind on the building engine (the base stays as the cache).
    docker(engineHost, ['rmi', '-f', ref]);
  }
  log(`built and pushed ${ref} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ref;
}
