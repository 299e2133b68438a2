// The agent's identity on disk: Ed25519 identity key (agent id = its thumbprint),
// X25519 sealing key and a self-signed TLS certificate that clients pin.
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import type { JWK } from '../shared/api-types.js';
import { ConfigError, UserError } from '../shared/errors.js';
import { publicOkpJwk } from '../shared/jose.js';
import { generateIdentityKeys, thumbprint } from '../shared/keys.js';
import { agentPaths, type AgentPaths } from './config.js';

const run = promisify(execFile);

export interface AgentIdentity {
  agentId: string;
  identityPrivateJwk: JWK;
  identityPublicJwk: JWK;
  sealingPrivateJwk: JWK;
  sealingPublicJwk: JWK;
  tlsCertPem: string;
  tlsKeyPem: string;
  /** SHA-256 of the certificate DER, lowercase hex, no colons. */
  tlsFingerprint: string;
}

export interface InitResult {
  keysCreated: boolean;
  certificateCreated: boolean;
  agentId: string;
  tlsFingerprint: string;
}

const DEFAULT_SANS = ['localhost', '127.0.0.1'];
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const MAX_SANS = 50;

/** `DNS:name` / `IP:addr` entries for the certificate; refuses anything else. */
export function subjectAltNames(sans: readonly string[]): string[] {
  if (sans.length > MAX_SANS) throw new UserError(`at most ${MAX_SANS} --san values`);
  const out = new Set<string>();
  for (const san of [...sans, ...DEFAULT_SANS]) {
    const bare = san.startsWith('[') && san.endsWith(']') ? san.slice(1, -1) : san;
    if (isIP(bare) !== 0) out.add(`IP:${bare}`);
    else if (DNS_NAME.test(san)) out.add(`DNS:${san.toLowerCase()}`);
    else throw new UserError(`--san "${san}" is neither an IP address nor a DNS name`);
  }
  return [...out];
}

export function certificateFingerprint(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/**
 * Creates what is missing; keeps an existing identity unless `force`, because
 * every client has pinned it and a new one looks exactly like an impostor.
 */
export async function initIdentity(stateDir: string, opts: { sans: readonly string[]; force: boolean }): Promise<InitResult> {
  const altNames = subjectAltNames(opts.sans);
  const paths = agentPaths(stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.tlsDir, { recursive: true, mode: 0o700 });

  const haveKeys = (await exists(paths.identity)) && (await exists(paths.sealing));
  let keysCreated = false;
  if (!haveKeys || opts.force) {
    const keys = await generateIdentityKeys();
    await writeSecretFile(paths.sealing, `${JSON.stringify(keys.sealing.privateJwk)}\n`);
    await writeSecretFile(paths.identity, `${JSON.stringify(keys.identity.privateJwk)}\n`);
    keysCreated = true;
  }
  const haveCert = (await exists(paths.tlsCert)) && (await exists(paths.tlsKey));
  let certificateCreated = false;
  if (!haveCert || opts.force || keysCreated) {
    await createCertificate(paths, altNames);
    certificateCreated = true;
  }
  const identity = await loadIdentity(paths);
  return { keysCreated, certificateCreated, agentId: identity.agentId, tlsFingerprint: identity.tlsFingerprint };
}

async function createCertificate(paths: AgentPaths, altNames: string[]): Promise<void> {
  const keyTmp = `${paths.tlsKey}.tmp`;
  const certTmp = `${paths.tlsCert}.tmp`;
  await rm(keyTmp, { force: true });
  try {
    await run('openssl', [
      'req', '-x509', '-new', '-nodes',
      '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-sha256', '-days', '3650',
      '-subj', '/CN=berth-agent',
      '-addext', `subjectAltName=${altNames.join(',')}`,
      '-keyout', keyTmp, '-out', certTmp,
    ], { timeout: 30_000 });
  } catch (e) {
    const detail = (e as { stderr?: string }).stderr?.trim() || (e as Error).message;
    throw new ConfigError(`openssl could not create the TLS certificate: ${detail}`, 'is the openssl binary installed?');
  }
  await chmod(keyTmp, 0o600);
  await rename(keyTmp, paths.tlsKey);
  await rename(certTmp, paths.tlsCert);
}

export async function loadIdentity(paths: AgentPaths): Promise<AgentIdentity> {
  const identityPrivateJwk = await readJwk(paths.identity, 'identity key');
  const sealingPrivateJwk = await readJwk(paths.sealing, 'sealing key');
  const identityPublicJwk = publicOkpJwk(identityPrivateJwk, 'Ed25519', `identity key ${paths.identity}`);
  const sealingPublicJwk = publicOkpJwk(sealingPrivateJwk, 'X25519', `sealing key ${paths.sealing}`);
  if (typeof identityPrivateJwk.d !== 'string' || typeof sealingPrivateJwk.d !== 'string') {
    throw new ConfigError('identity.jwk and sealing.jwk must hold private keys', 'run berth-agent init --force');
  }
  const tlsCertPem = await readText(paths.tlsCert, 'TLS certificate');
  const tlsKeyPem = await readText(paths.tlsKey, 'TLS key');
  let tlsFingerprint: string;
  try {
    tlsFingerprint = certificateFingerprint(tlsCertPem);
  } catch {
    throw new ConfigError(`${paths.tlsCert} is not a PEM certificate`, 'run berth-agent init --force');
  }
  return {
    agentId: await thumbprint(identityPublicJwk),
    identityPrivateJwk,
    identityPublicJwk,
    sealingPrivateJwk,
    sealingPublicJwk,
    tlsCertPem,
    tlsKeyPem,
    tlsFingerprint,
  };
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the ${what} at ${file}`, 'run berth-agent init first');
  }
}

async function readJwk(file: string, what: string): Promise<JWK> {
  const text = await readText(file, what);
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as JWK;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(`${file} is not a JWK JSON object`, 'run berth-agent init --force');
}

/** Written to a temp name with 0600 and renamed, so no reader ever sees a partial key. */
async function writeSecretFile(file: string, content: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await rm(tmp, { force: true });
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
  await rename(tmp, file);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
