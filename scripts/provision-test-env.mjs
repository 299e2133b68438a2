#!/usr/bin/env node
// Provisions what the integration and e2e suites run against: two dedicated
// Docker engines, an open registry, a registry that needs a login (htpasswd)
// and the test images. Idempotent: reuses what is already running and what is
// already built. The PostgreSQL image only when asked (its first build takes
// about 80 s). Used by scripts/run-tests.mjs; also runnable by hand:
//   node scripts/provision-test-env.mjs up      start (or reuse) everything, PostgreSQL image included, print the env
//   node scripts/provision-test-env.mjs down    stop the engines and the registry
// Data roots under /var/lib/berth-test stay as a cache.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENGINES, removeLeftovers, startEngines, stopEngines } from './provision/engines.mjs';
import { ensureImages, removeTestImages } from './provision/images.mjs';
import { ensurePostgresImage } from './provision/postgres-image.mjs';
import { ensureRegistry, stopRegistry } from './provision/registry.mjs';
import { ensureAuthImages, ensureAuthRegistry, stopAuthRegistry } from './provision/auth-registry.mjs';
import { registerUser, unregisterUser, withProvisionLock } from './provision/users.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ENV_FILE = path.join(ROOT, '.berth-test', 'env.json');

// pebble: the ACME test server (pebble, pebble-challtestsrv) the TLS tests issue certificates from.
const PACKAGES = ['docker.io', 'containerd', 'docker-registry', 'busybox-static', 'apache2-utils', 'openssl', 'iproute2', 'procps', 'curl', 'debootstrap', 'zstd', 'pebble'];

function missingPackages() {
  return PACKAGES.filter((pkg) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev}', pkg], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.startsWith('ii');
  });
}

function ensurePackages(log) {
  const missing = missingPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing packages ${missing.join(' ')}; run as root to install them`);
  log(`installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'inherit', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: ['ignore', 'inherit', 'inherit'], env });
}

/**
 * Starts or reuses everything (the PostgreSQL image with `postgres: true`);
 * returns the facts the tests get as env vars.
 */
export async function provision({ log = (m) => console.error(`[provision] ${m}`), postgres = false } = {}) {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('integration and e2e tests need Linux and root (they start their own Docker engines)');
  }
  return withProvisionLock(async () => {
    // Leftovers are cleared only by the first user: others' tests are running.
    const firstUser = unregisterUser().length === 0;
    registerUser();
    ensurePackages(log);
    await startEngines(log);
    const registry = await ensureRegistry(log);
    const images = await ensureImages({ root: ROOT, registry, engineHost: ENGINES[0].host, log });
    const authRegistry = await ensureAuthRegistry(log);
    const authImages = await ensureAuthImages({ openRegistry: registry, authRegistry, engineHost: ENGINES[0].host, log });
    const postgresImage = postgres ? await ensurePostgresImage({ root: ROOT, registry, engineHost: ENGINES[0].host, log }) : null;
    if (firstUser) {
      removeLeftovers(log);
      for (const engine of ENGINES) removeTestImages(engine.host);
    }
    return writeEnv(registry, images, { ...authRegistry, images: authImages }, postgresImage);
  }, log);
}

function writeEnv(registry, images, authRegistry, postgresImage) {
  const env = {
    engines: ENGINES.map((e) => ({ host: e.host, subnet: e.subnet })),
    registry,
    images,
    authRegistry,
    postgresImage,
    root: ROOT,
  };
  fs.mkdirSync(path.dirname(ENV_FILE), { recursive: true });
  // It holds the test registry's (throwaway) login.
  fs.writeFileSync(ENV_FILE, `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(ENV_FILE, 0o600);
  return env;
}

export function envVars(env) {
  return {
    BERTH_TEST_ENGINES: JSON.stringify(env.engines),
    BERTH_TEST_REGISTRY: env.registry,
    BERTH_TEST_IMAGES: JSON.stringify(env.images),
    BERTH_TEST_AUTH_REGISTRY: JSON.stringify(env.authRegistry),
    BERTH_TEST_ROOT: env.root,
    ...(env.postgresImage ? { BERTH_TEST_POSTGRES_IMAGE: env.postgresImage } : {}),
  };
}

/** Stops the engines and the registry, unless another runner still uses them. */
export async function teardown({ log = (m) => console.error(`[teardown] ${m}`), force = false } = {}) {
  const others = unregisterUser();
  if (others.length > 0 && !force) {
    log(`leaving the test engines running: still used by pid ${others.join(', ')}`);
    return;
  }
  await withProvisionLock(async () => {
    await stopEngines(log);
    await stopRegistry(log);
    await stopAuthRegistry(log);
  }, log);
}

async function main(command) {
  if (command === 'up') {
    const env = await provision({ postgres: true });
    for (const [k, v] of Object.entries(envVars(env))) console.log(`export ${k}='${v}'`);
  } else if (command === 'down') {
    await teardown({ force: true });
  } else {
    console.error('usage: node scripts/provision-test-env.mjs up|down');
    process.exitCode = 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2]).catch((err) => {
    console.error(`provisioning failed: ${err instanceof Error ? err.message : err}`);
    process.exitCode = 1;
  });
}
