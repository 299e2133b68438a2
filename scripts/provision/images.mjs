// Test images: built on engine 1 from test-images/web, pushed to the test
// registry, then removed from engine 1 so agents have to pull them. Skipped
// when the registry already holds the tag built from the same context (a
// hash of the build context and build args is stored as an image label).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { docker } from './engines.mjs';
import { imageConfig } from './registry.mjs';

const BUSYBOX = '/bin/busybox';
const HASH_LABEL = 'berth.test.context';
export const IMAGE_REPO = 'berth-test/web';

export const VARIANTS = {
  v1: { VERSION: 'v1', MODE: 'normal' },
  v2: { VERSION: 'v2', MODE: 'normal' },
  v3: { VERSION: 'v3', MODE: 'normal' },
  unhealthy: { VERSION: 'unhealthy', MODE: 'unhealthy' },
  slowstart: { VERSION: 'slowstart', MODE: 'slowstart' },
};

function filesUnder(dir, base = dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full, base));
    else if (entry.isFile()) out.push(path.relative(base, full));
  }
  return out.sort();
}

function contextHash(contextDir) {
  const hash = crypto.createHash('sha256');
  for (const rel of filesUnder(contextDir)) {
    hash.update(`${rel}\0`);
    hash.update(fs.readFileSync(path.join(contextDir, rel)));
    hash.update('\0');
  }
  hash.update(fs.readFileSync(BUSYBOX));
  return hash.digest('hex');
}

function variantHash(baseHash, args) {
  return crypto.createHash('sha256').update(baseHash).update(JSON.stringify(args)).digest('hex');
}

function run(host, args, what) {
  const r = docker(host, args);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

function buildContext(sourceDir) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-image-'));
  fs.cpSync(sourceDir, dir, { recursive: true });
  fs.copyFileSync(BUSYBOX, path.join(dir, 'busybox'));
  fs.chmodSync(path.join(dir, 'busybox'), 0o755);
  return dir;
}

/**
 * Ensures every variant is in the registry; returns `{ name: ref }` with refs
 * `REGISTRY/berth-test/web:NAME`.
 */
export async function ensureImages({ root, registry, engineHost, log }) {
  const sourceDir = path.join(root, 'test-images', 'web');
  const baseHash = contextHash(sourceDir);
  const refs = {};
  const stale = [];
  for (const [name, args] of Object.entries(VARIANTS)) {
    const ref = `${registry}/${IMAGE_REPO}:${name}`;
    refs[name] = ref;
    const want = variantHash(baseHash, args);
    const config = await imageConfig(registry, IMAGE_REPO, name);
    if (config?.config?.Labels?.[HASH_LABEL] !== want) stale.push({ name, ref, args, want });
  }
  if (stale.length === 0) return refs;

  log(`building test images: ${stale.map((s) => s.name).join(', ')}`);
  const context = buildContext(sourceDir);
  try {
    for (const { name, ref, args, want } of stale) {
      const buildArgs = Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
      run(engineHost, ['build', '-q', '-t', ref, '--label', `${HASH_LABEL}=${want}`, ...buildArgs, context], `building ${name}`);
      run(engineHost, ['push', ref], `pushing ${ref}`);
    }
  } finally {
    fs.rmSync(context, { recursive: true, force: true });
    // Agents must pull: leave no test image behind on the building engine.
    for (const { ref } of stale) docker(engineHost, ['rmi', '-f', ref]);
  }
  return refs;
}

/** Removes every copy of the test images (berth-test/*: any registry port, tag or digest) from an engine. */
export function removeTestImages(host) {
  const r = docker(host, ['images', '--no-trunc', '--format', '{{.Repository}} {{.ID}}']);
  if (r.code !== 0) throw new Error(`listing images failed: ${r.stderr.trim()}`);
  const ids = new Set();
  for (const line of r.stdout.split('\n')) {
    const [repo, id] = line.trim().split(' ');
    if (repo && id && /\/berth-test\/[^/]+$/.test(repo)) ids.add(id);
  }
  if (ids.size > 0) docker(host, ['rmi', '-f', ...ids]);
}
