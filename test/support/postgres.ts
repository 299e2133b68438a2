// The PostgreSQL test image (test-images/postgres) and SQL against a running
// container of it through the test engine's docker CLI. Importing this module
// is what makes scripts/run-tests.mjs provision the image (its first build
// takes about 80 s), so only tests that use it pay for it.
//
// The image: Debian's postgresql 15; PGDATA=/var/lib/postgresql/data, a
// cluster created there when it is empty; local socket trust, host
// connections scram with POSTGRES_PASSWORD; POSTGRES_DB created; health check
// pg_isready.
import { spawn } from 'node:child_process';
import { docker, registryDigest } from './docker-cli.js';
import { splitImageRef } from './env.js';
import { waitFor } from './wait.js';

export const PGDATA = '/var/lib/postgresql/data';

const RUNNER_HINT =
  'BERTH_TEST_POSTGRES_IMAGE is not set: scripts/run-tests.mjs provisions the PostgreSQL image for runs ' +
  'whose tests import test/support/postgres.js (`node scripts/run-tests.mjs <file>` after `npm run build`)';

/** REGISTRY/berth-test/postgres:15 in the open test registry; absent from every engine at start. */
export function postgresImage(): string {
  const ref = process.env.BERTH_TEST_POSTGRES_IMAGE;
  if (!ref) throw new Error(RUNNER_HINT);
  return ref;
}

/** The image pinned by digest (REGISTRY/berth-test/postgres@sha256:…), as a manifest needs it. */
export async function postgresImageByDigest(): Promise<string> {
  const { registry, repo, tag } = splitImageRef(postgresImage());
  const digest = await registryDigest(registry, repo, tag);
  if (!digest) throw new Error(`${postgresImage()} is missing from the test registry`);
  return `${registry}/${repo}@${digest}`;
}

export interface PsqlOptions {
  database?: string;
  user?: string;
}

/**
 * Runs `sql` (one or more statements, read from stdin) with psql inside the
 * container as the postgres OS user over the local socket; returns stdout,
 * unaligned and tuples only (`a|b` per row). Throws with stderr on any error.
 */
export async function psql(engineHost: string, container: string, sql: string, opts: PsqlOptions = {}): Promise<string> {
  const args = ['exec', '-i', '-u', 'postgres', container, 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-U', opts.user ?? 'postgres', '-d', opts.database ?? 'app'];
  const r = await docker(engineHost, args, { input: sql });
  if (r.code !== 0) throw new Error(`psql in ${container} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Waits until Docker reports the container healthy (pg_isready on the final socket). */
export async function waitHealthy(engineHost: string, container: string, timeoutMs = 120_000): Promise<void> {
  let last = '';
  await waitFor(`${container} to be healthy`, async () => {
    const r = await docker(engineHost, ['inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', container]);
    last = r.code === 0 ? r.stdout.trim() : r.stderr.trim();
    return last.endsWith(' healthy') || undefined;
  }, timeoutMs, { intervalMs: 250, explain: () => `last seen: ${last}` });
}

export interface ExecResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** `docker exec [-i] -u postgres CONTAINER ARGV…` with binary stdin/stdout (dumps are not text). */
export function execBytes(engineHost: string, container: string, argv: string[], input?: Buffer): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['-H', engineHost, 'exec', ...(input ? ['-i'] : []), '-u', 'postgres', container, ...argv], {
      env: { ...process.env, DOCKER_CLI_HINTS: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr }));
    // pg_restore stops reading at its first error: the rest of the input is not the result.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') reject(err);
    });
    child.stdin.end(input ?? Buffer.alloc(0));
  });
}
