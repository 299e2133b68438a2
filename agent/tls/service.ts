// The agent's certificates: issued at a deploy for every host of an ssl role
// that has none (or one expiring within a day), or given as PEM by the
// release; kept under <state>/tls/ and in the store; sent to the router by
// value; renewed by a timer once a third of their lifetime remains, with
// backoff on failure while the old certificate keeps serving; resent when
// the router lost them. The agent is the source of truth, the router a cache.

import { AGENT_ACTOR } from '../../shared/api-types.js';
import { CertificateInvalidError, errorText } from '../../shared/errors.js';
import { checkCertificate, renewAt, retryAt, type CertificateInfo } from '../core/certificates.js';
import type { Logger } from '../log.js';
import type { RouterCertificate } from '../router/client.js';
import type { CertificateRecord, Store } from '../store/index.js';
import { issueCertificate, type AcmeSettings, type ChallengePort } from './acme.js';
import type { TlsFiles } from './files.js';

export interface CertificateRouterPort extends ChallengePort {
  putCertificate(id: string, body: { hosts: string[]; cert_pem: string; key_pem: string }): Promise<RouterCertificate>;
  deleteCertificate(id: string): Promise<void>;
  listCertificates(): Promise<RouterCertificate[]>;
}

/** One ssl role of a release, as the deploy phase hands it over. */
export interface SslRole {
  service: string;
  destination: string;
  /** The router's name of the role (service[.role][@destination]). */
  routeName: string;
  hosts: string[];
  /** A certificate the release gives (unsealed); none for ACME. */
  given?: { certPem: string; keyPem: string } | undefined;
}

export interface TlsService {
  /** Every host of `role` has a valid certificate in the router, or this throws (certificate_failed / certificate_invalid). */
  prepare(role: SslRole, say: (message: string) => void): Promise<void>;
  /** Puts what the router lacks or has stale, removes what the agent no longer owns; quiet when the router is down. */
  sync(): Promise<void>;
  /** `deploy remove`: the service's certificates leave the router, the files and the store. */
  serviceRemoved(ref: { service: string; destination: string }): Promise<void>;
  /** Starts the renewal timer. */
  start(): void;
  /** Stops the timer; resolves when a renewal under way is done. */
  stop(): Promise<void>;
}

export interface TlsDeps {
  store: Store;
  files: TlsFiles;
  router: CertificateRouterPort;
  acme: AcmeSettings;
  log: Logger;
  now?: () => number;
  random?: () => number;
  /** Issues one certificate; acme.ts by default (the e2e tests run pebble; a test seam only). */
  issue?: typeof issueCertificate;
  /** Told of each failed renewal (the release's notify hook, agent/main.ts); never throws. */
  notifyFailure?: (rec: CertificateRecord, error: string, nextAttemptAt: number) => Promise<void>;
}

/** A deploy issues anew when the certificate it has ends within this. */
const REISSUE_WITHIN_MS = 24 * 3_600_000;
/** The timer wakes at least this often, so a clock jump or a new row is seen. */
const MAX_SLEEP_MS = 3_600_000;

export function createTlsService(deps: TlsDeps): TlsService {
  const now = deps.now ?? Date.now;
  const issue = deps.issue ?? issueCertificate;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  let renewing: Promise<void> = Promise.resolve();

  const install = async (id: string, source: 'acme' | 'pem', role: SslRole, hosts: string[], pem: { certPem: string; keyPem: string }, info: CertificateInfo) => {
    await deps.files.writeCertificate(id, pem.certPem, pem.keyPem);
    await deps.router.putCertificate(id, { hosts, cert_pem: pem.certPem, key_pem: pem.keyPem });
    deps.store.certificates.put({
      id, source, hosts, service: role.service, destination: role.destination, not_before: info.notBefore, not_after: info.notAfter,
      sha256: info.sha256, issuer: info.issuer, issued_at: now(),
      // A given certificate is the user's to renew: the timer leaves it alone.
      renew_after: source === 'acme' ? renewAt(info.notBefore, info.notAfter) : Number.MAX_SAFE_INTEGER,
    });
  };

  const audit = (action: string, role: Pick<SslRole, 'service' | 'destination'>, detail: Record<string, unknown>) =>
    deps.store.audit.record({ keyId: AGENT_ACTOR, action, service: role.service, destination: role.destination, detail });

  const issueHost = async (host: string, role: SslRole): Promise<CertificateInfo> => {
    const started = performance.now();
    const pem = await issue(host, deps.acme, deps.files.accounts, deps.router);
    const info = checkCertificate(pem.certPem, pem.keyPem, [host], now());
    await install(`acme-${host}`, 'acme', role, [host], pem, info);
    deps.log.info('certificate issued', { host, not_after: new Date(info.notAfter).toISOString(), issuer: info.issuer, ms: Math.round(performance.now() - started) });
    return info;
  };

  const ensureInRouter = async (rec: CertificateRecord): Promise<void> => {
    const pem = await deps.files.readCertificate(rec.id);
    if (!pem) throw new Error(`the files of certificate ${rec.id} are missing under ${deps.files.certificateDir(rec.id)}`);
    await deps.router.putCertificate(rec.id, { hosts: rec.hosts, cert_pem: pem.certPem, key_pem: pem.keyPem });
  };

  const renewOne = async (rec: CertificateRecord): Promise<void> => {
    const host = rec.hosts[0]!;
    try {
      const info = await issueHost(host, { service: rec.service, destination: rec.destination, routeName: '', hosts: rec.hosts });
      audit('certificate.renewed', rec, { host, not_after: new Date(info.notAfter).toISOString(), issuer: info.issuer });
    } catch (e) {
      const next = retryAt(rec.failures + 1, now(), rec.not_after, (deps.random ?? Math.random)());
      deps.store.certificates.failed(rec.id, next, errorText(e));
      audit('certificate.failed', rec, { host, renewal: true, code: (e as { code?: unknown }).code ?? 'certificate_failed', error: errorText(e), next_attempt_at: new Date(next).toISOString() });
      deps.log.warn('certificate renewal failed; the old certificate keeps serving', { host, failures: rec.failures + 1, next_attempt_at: new Date(next).toISOString(), error: e });
      await deps.notifyFailure?.(rec, errorText(e), next);
    }
  };

  /** Out of the store and the files first: a router that misses the DELETE gets it again from sync(). */
  const drop = async (rec: CertificateRecord): Promise<void> => {
    deps.store.certificates.remove(rec.id);
    await deps.files.removeCertificate(rec.id);
    audit('certificate.removed', rec, { id: rec.id, hosts: rec.hosts });
    await deps.router.deleteCertificate(rec.id).catch((e: unknown) => deps.log.warn('the router did not drop a removed certificate; will retry', { id: rec.id, error: e }));
  };

  /** A role that switched between given and issued certificates: the other kind for its hosts goes, so SNI cannot pick a stale one. */
  const dropReplaced = async (role: SslRole, keep: Set<string>): Promise<void> => {
    for (const rec of deps.store.certificates.all()) {
      if (!keep.has(rec.id) && rec.service === role.service && rec.destination === role.destination && rec.hosts.some((h) => role.hosts.includes(h))) await drop(rec);
    }
  };

  const dueAt = (rec: CertificateRecord) => Math.max(rec.renew_after, rec.next_attempt_at ?? 0);

  const renewDue = async (): Promise<void> => {
    // One at a time, in order of urgency.
    for (const rec of deps.store.certificates.all().filter((r) => r.source === 'acme').sort((a, b) => dueAt(a) - dueAt(b))) {
      if (stopped) return;
      if (dueAt(rec) > now()) break;
      await renewOne(rec);
    }
  };

  const arm = (): void => {
    if (stopped) return;
    clearTimeout(timer);
    const next = Math.min(...deps.store.certificates.all().filter((r) => r.source === 'acme').map(dueAt), now() + MAX_SLEEP_MS);
    timer = setTimeout(() => {
      renewing = renewDue()
        .catch((e: unknown) => deps.log.error('certificate renewal pass failed', { error: e }))
        .finally(arm);
    }, Math.max(0, next - now()));
    timer.unref();
  };

  return {
    async prepare(role, say) {
      if (role.given) {
        const id = `pem-${role.routeName}`;
        let info: CertificateInfo;
        try {
          info = checkCertificate(role.given.certPem, role.given.keyPem, role.hosts, now());
        } catch (e) {
          throw new CertificateInvalidError(`the certificate given for ${role.routeName}: ${errorText(e)}`, 'give a PEM certificate and its unencrypted key covering every proxy host');
        }
        const had = deps.store.certificates.get(id);
        if (had?.sha256 === info.sha256) await ensureInRouter(had);
        else await install(id, 'pem', role, role.hosts, role.given, info);
        const days = Math.floor((info.notAfter - now()) / 86_400_000);
        await dropReplaced(role, new Set([id]));
        say(`certificate for ${role.hosts.join(', ')}: given (expires ${new Date(info.notAfter).toISOString().slice(0, 10)})${days < 14 ? `; warning: it expires in ${days} day(s), renew it` : ''}`);
        return;
      }
      for (const host of role.hosts) {
        if (host.startsWith('*.')) {
          throw new CertificateInvalidError(`${host}: automatic certificates cannot cover a wildcard host`, 'give a certificate (proxy/ssl: certificate_pem, private_key_pem) for wildcard hosts');
        }
        const had = deps.store.certificates.get(`acme-${host}`);
        if (had && had.not_after - now() > REISSUE_WITHIN_MS && (await deps.files.readCertificate(had.id))) {
          await ensureInRouter(had);
          say(`certificate for ${host}: reused (expires ${new Date(had.not_after).toISOString().slice(0, 10)})`);
          continue;
        }
        try {
          const info = await issueHost(host, role);
          audit('certificate.issued', role, { host, not_after: new Date(info.notAfter).toISOString(), issuer: info.issuer });
          say(`certificate for ${host}: issued by ${info.issuer} (expires ${new Date(info.notAfter).toISOString().slice(0, 10)})`);
        } catch (e) {
          audit('certificate.failed', role, { host, code: (e as { code?: unknown }).code ?? 'certificate_failed', error: errorText(e) });
          throw e;
        }
      }
      await dropReplaced(role, new Set(role.hosts.map((h) => `acme-${h}`)));
      arm();
    },
    async sync() {
      let served: RouterCertificate[];
      try {
        served = await deps.router.listCertificates();
      } catch {
        return; // The route sync already says the router is down.
      }
      const byId = new Map(served.map((c) => [c.id, c]));
      for (const rec of deps.store.certificates.all()) {
        if (byId.get(rec.id)?.sha256 === rec.sha256) continue;
        await ensureInRouter(rec).then(
          () => deps.log.info('certificate sent to the router', { id: rec.id }),
          (e: unknown) => deps.log.warn('could not send a certificate to the router; will retry', { id: rec.id, error: e }),
        );
      }
      const owned = new Set(deps.store.certificates.all().map((r) => r.id));
      for (const c of served) {
        if (!owned.has(c.id)) await deps.router.deleteCertificate(c.id).catch(() => undefined);
      }
    },
    async serviceRemoved(ref) {
      // A host another service still routes keeps its certificate.
      const routed = new Set(deps.store.routes.all().flatMap((r) => r.hosts));
      for (const rec of deps.store.certificates.all()) {
        if (rec.service !== ref.service || rec.destination !== ref.destination || rec.hosts.some((h) => routed.has(h))) continue;
        await drop(rec);
      }
      arm();
    },
    start() {
      stopped = false;
      arm();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await renewing;
    },
  };
}
