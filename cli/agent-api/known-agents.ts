// `.berth/known_agents` in the app dir: the pinned identity of every server,
// keyed by host:port, like SSH's known_hosts. Public data, safe to commit.

import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from '../../shared/api-types.js';
import { PinMismatchError, UserError } from '../../shared/errors.js';
import { isBase64Url32, publicOkpJwk } from '../../shared/jose.js';
import { fingerprintOfPem } from '../fingerprint.js';

export interface KnownAgent {
  agent_id: string;
  certificate: string;
  tls_fingerprint: string;
  sealing_jwk: JWK;
  added_at: string;
}

export type KnownAgents = Record<string, KnownAgent>;

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_CERT_CHARS = 16 * 1024;

export function knownAgentsPath(appDir: string): string {
  return join(appDir, '.berth', 'known_agents');
}

function checkEntry(file: string, key: string, value: unknown): KnownAgent {
  const bad = (why: string) => new UserError(`${file}: entry ${JSON.stringify(key.slice(0, 100))} ${why}`, `fix it or remove it with \`deploy server remove ${key.slice(0, 100)}\``);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('is not an object');
  const e = value as Record<string, unknown>;
  if (!isBase64Url32(e.agent_id)) throw bad('has no valid agent_id');
  if (typeof e.certificate !== 'string' || e.certificate.length > MAX_CERT_CHARS) throw bad('has no valid certificate');
  if (typeof e.tls_fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(e.tls_fingerprint)) throw bad('has no valid tls_fingerprint');
  let fingerprint: string;
  try {
    fingerprint = fingerprintOfPem(e.certificate);
  } catch {
    throw bad('has a certificate that is not PEM');
  }
  if (fingerprint !== e.tls_fingerprint) throw bad('has a tls_fingerprint that does not match its certificate');
  let sealing: JWK;
  try {
    sealing = publicOkpJwk(e.sealing_jwk as JWK, 'X25519');
  } catch {
    throw bad('has no valid sealing_jwk');
  }
  return {
    agent_id: e.agent_id,
    certificate: e.certificate,
    tls_fingerprint: e.tls_fingerprint,
    sealing_jwk: sealing,
    added_at: typeof e.added_at === 'string' ? e.added_at.slice(0, 64) : '',
  };
}

export async function readKnownAgents(appDir: string): Promise<KnownAgents> {
  const file = knownAgentsPath(appDir);
  try {
    if ((await stat(file)).size > MAX_FILE_BYTES) throw new UserError(`${file} is larger than ${MAX_FILE_BYTES} bytes`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new UserError(`${file} is not valid JSON`, 'restore it from version control, or delete it and run `deploy server add` for each server');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UserError(`${file} should hold a JSON object keyed by host:port`);
  const out: KnownAgents = {};
  for (const [key, value] of Object.entries(parsed)) out[key] = checkEntry(file, key, value);
  return out;
}

async function writeKnownAgents(appDir: string, agents: KnownAgents): Promise<void> {
  const file = knownAgentsPath(appDir);
  await mkdir(join(appDir, '.berth'), { recursive: true });
  const sorted = Object.fromEntries(Object.entries(agents).sort(([a], [b]) => a.localeCompare(b)));
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(JSON.stringify(sorted, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

/** Same agent and certificate as pinned? Otherwise the error an operator needs to decide. */
export function pinConflict(address: string, pinned: KnownAgent, seen: { agent_id: string; tls_fingerprint: string }): PinMismatchError | undefined {
  if (pinned.agent_id === seen.agent_id && pinned.tls_fingerprint === seen.tls_fingerprint) return undefined;
  return new PinMismatchError(
    `${address} does not match its pin in .berth/known_agents: pinned agent ${pinned.agent_id} with certificate ${pinned.tls_fingerprint}, ` +
      `the server now presents agent ${seen.agent_id} with certificate ${seen.tls_fingerprint}`,
    `if the server was reinstalled or re-keyed on purpose (check on the server with \`berth-agent status\`), run \`deploy server add ${address} --replace\``,
  );
}

// Writers in one process (a push pinning several new servers) take turns.
let queue: Promise<unknown> = Promise.resolve();
function serialized<T>(task: () => Promise<T>): Promise<T> {
  const run = queue.then(task, task);
  queue = run.catch(() => undefined);
  return run;
}

export type RecordOutcome = 'added' | 'unchanged' | 'replaced';

export function recordKnownAgent(appDir: string, address: string, entry: KnownAgent, options: { replace: boolean }): Promise<RecordOutcome> {
  return serialized(async () => {
    const agents = await readKnownAgents(appDir);
    const pinned = agents[address];
    if (pinned) {
      const conflict = pinConflict(address, pinned, entry);
      if (!conflict) return 'unchanged';
      if (!options.replace) throw conflict;
    }
    agents[address] = entry;
    await writeKnownAgents(appDir, agents);
    return pinned ? 'replaced' : 'added';
  });
}

export function removeKnownAgent(appDir: string, address: string): Promise<boolean> {
  return serialized(async () => {
    const agents = await readKnownAgents(appDir);
    if (!(address in agents)) return false;
    delete agents[address];
    await writeKnownAgents(appDir, agents);
    return true;
  });
}
