// The one adapter of acme-client (RFC 8555). Loaded on first use with a
// dynamic import: it takes ~210 ms and brings axios and node-forge, which
// nothing else in the agent (and nothing in the router) needs. One order per
// host, HTTP-01 only, the token answered by the router; the ACME error type
// and detail are read back from the authorization, because acme-client
// throws a bare Error(detail). Its retry of an unreachable directory (5 tries
// over 75 s, then a TypeError that loses the cause, upstream bug #101) is cut
// to one try, and our own preflight names the cause instead.

import { createHash } from 'node:crypto';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { CertificateIssueError } from '../../shared/errors.js';

export interface AcmeSettings {
  directoryUrl: string;
  /** Contact for the account; none by default. */
  email?: string | undefined;
  /** An extra root to trust for the ACME server only (a private CA, pebble in tests). */
  caPem?: string | undefined;
}

export interface AccountRecord {
  url?: string | undefined;
  keyPem: string;
}

/** Where the account of a directory is kept (agent/tls/store.ts). */
export interface AccountStore {
  load(directoryUrl: string): Promise<AccountRecord | undefined>;
  save(directoryUrl: string, account: AccountRecord): Promise<void>;
}

/** The router's HTTP-01 answers (agent/router/client.ts). */
export interface ChallengePort {
  putChallenge(token: string, host: string, keyAuthorization: string): Promise<void>;
  deleteChallenge(token: string): Promise<void>;
}

export interface Issued {
  /** Leaf first, then intermediates. */
  certPem: string;
  keyPem: string;
}

const DEADLINE_MS = 120_000;
const DIRECTORY_TIMEOUT_MS = 10_000;
const MAX_DETAIL = 500;

type Acme = typeof import('acme-client');
let loaded: Promise<Acme> | undefined;
let trustedCa: string | undefined;

async function load(caPem: string | undefined): Promise<Acme> {
  loaded ??= import('acme-client').then((m) => {
    const acme = ((m as { default?: Acme }).default ?? m) as Acme;
    const defaults = acme.axios.defaults as typeof acme.axios.defaults & { acmeSettings: Record<string, number> };
    defaults.acmeSettings.retryMaxAttempts = 1;
    defaults.acmeSettings.retryDefaultDelay = 1;
    defaults.timeout = DIRECTORY_TIMEOUT_MS;
    return acme;
  });
  const acme = await loaded;
  // The axios instance is process-wide; `ca` replaces Node's roots, hence the spread.
  if (caPem !== trustedCa) {
    acme.axios.defaults.httpsAgent = caPem ? new https.Agent({ ca: [...rootCertificates, caPem], keepAlive: true }) : undefined;
    trustedCa = caPem;
  }
  return acme;
}

/** A new certificate for `host` (a new P-256 key, one order). Throws CertificateIssueError. */
export async function issueCertificate(host: string, settings: AcmeSettings, accounts: AccountStore, router: ChallengePort): Promise<Issued> {
  await preflight(host, settings);
  const acme = await load(settings.caPem);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failed(host, settings, 'timeout', `no certificate within ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([order(acme, host, settings, accounts, router), deadline]);
  } catch (e) {
    if (e instanceof CertificateIssueError) throw e;
    // Anything else out of acme-client (its TypeError of bug #101 included): say what the directory does now.
    await preflight(host, settings);
    throw failed(host, settings, 'error', (e as Error).message);
  } finally {
    clearTimeout(timer);
  }
}

async function order(acme: Acme, host: string, settings: AcmeSettings, accounts: AccountStore, router: ChallengePort): Promise<Issued> {
  const client = await accountClient(acme, settings, accounts);
  const order = await client.createOrder({ identifiers: [{ type: 'dns', value: host }] });
  for (const authz of await client.getAuthorizations(order)) {
    // A valid authorization is reused by the server (pebble with AUTHZREUSE, Let's Encrypt for 30 days).
    if (authz.status === 'valid') continue;
    const challenge = authz.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw failed(host, settings, 'no-http-01', 'the ACME server offers no http-01 challenge for this name');
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    await router.putChallenge(challenge.token, host, keyAuthorization);
    try {
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    } catch (e) {
      throw await describeFailure(client, order, host, settings, e as Error);
    } finally {
      await router.deleteChallenge(challenge.token).catch(() => undefined);
    }
  }
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ altNames: [host] }, key);
  const finalized = await client.finalizeOrder(order, csr);
  const certPem = await client.getCertificate(finalized);
  return { certPem, keyPem: key.toString() };
}

async function accountClient(acme: Acme, settings: AcmeSettings, accounts: AccountStore): Promise<InstanceType<Acme['Client']>> {
  let account = await accounts.load(settings.directoryUrl);
  if (!account) {
    account = { keyPem: (await acme.crypto.createPrivateEcdsaKey('P-256')).toString() };
    // Saved before the server knows it, so a crash between the two never loses the key of a registered account.
    await accounts.save(settings.directoryUrl, account);
  }
  // Polls every 1-10 s: the default 5 s minimum would make every validation take 5 s.
  const client = new acme.Client({
    directoryUrl: settings.directoryUrl, accountKey: account.keyPem, backoffAttempts: 10, backoffMin: 1000, backoffMax: 10_000,
    ...(account.url ? { accountUrl: account.url } : {}),
  });
  if (!account.url) {
    await client.createAccount({ termsOfServiceAgreed: true, ...(settings.email ? { contact: [`mailto:${settings.email}`] } : {}) });
    await accounts.save(settings.directoryUrl, { ...account, url: client.getAccountUrl() });
  }
  return client;
}

async function describeFailure(
  client: InstanceType<Acme['Client']>,
  order: Parameters<InstanceType<Acme['Client']>['getAuthorizations']>[0],
  host: string,
  settings: AcmeSettings,
  e: Error,
): Promise<CertificateIssueError> {
  const authorizations = await client.getAuthorizations(order).catch(() => []);
  for (const authz of authorizations) {
    const error = authz.challenges.find((c) => c.type === 'http-01')?.error as { type?: string; detail?: string } | undefined;
    if (error) return failed(host, settings, error.type ?? 'error', error.detail ?? e.message);
  }
  return failed(host, settings, 'error', e.message);
}

function failed(host: string, settings: AcmeSettings, type: string, detail: string): CertificateIssueError {
  return new CertificateIssueError(
    host,
    'certificate_failed',
    `could not get a certificate for ${host} from ${settings.directoryUrl}: ${clean(type)}: ${clean(detail)}`,
    `the ACME server must reach http://${host}/.well-known/acme-challenge/ on this server's port 80; check the host's DNS records and firewall`,
  );
}

/** Our own GET of the directory, so an unreachable server is named with its cause in seconds. */
function preflight(host: string, settings: AcmeSettings): Promise<void> {
  return new Promise((resolve, reject) => {
    const unreachable = (why: string) =>
      reject(new CertificateIssueError(host, 'acme_unreachable', `ACME directory ${settings.directoryUrl} unreachable: ${clean(why)}`, 'check --acme-directory and the network'));
    let req;
    try {
      req = https.get(settings.directoryUrl, { timeout: DIRECTORY_TIMEOUT_MS, agent: false, ...(settings.caPem ? { ca: [...rootCertificates, settings.caPem] } : {}) }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else unreachable(`HTTP ${res.statusCode}`);
      });
    } catch (e) {
      unreachable((e as Error).message);
      return;
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${DIRECTORY_TIMEOUT_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => unreachable(e.code ?? e.message));
  });
}

/** Bounded, one line, no control characters: it ends up in deploy output and the audit log. */
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, MAX_DETAIL);
}

/** The id of a directory's account folder: a URL is not a file name. */
export function directoryKey(directoryUrl: string): string {
  return createHash('sha256').update(directoryUrl).digest('hex').slice(0, 16);
}
