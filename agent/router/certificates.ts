// The router's certificates: what the agent sent over the control socket,
// checked, kept 0600 under <state>/router/tls/ (so HTTPS survives a router
// restart while the agent is down) and served by SNI. The lookup map is one
// reference swapped in a single assignment: a handshake sees the old map or
// the new one, and open connections keep the certificate they shook hands with.

import { mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { UserError } from '../../shared/errors.js';
import { checkCertificate, sniCandidates, type CertificateInfo } from '../core/certificates.js';
import { readSmallFile, writeFileDurably } from '../durable-file.js';
import { createSerial } from '../serial.js';

export interface CertificateInput {
  hosts: string[];
  cert_pem: string;
  key_pem: string;
}

export interface CertificateSummary {
  id: string;
  hosts: string[];
  not_after: string;
  sha256: string;
}

interface Loaded extends CertificateInput {
  id: string;
  info: CertificateInfo;
  context: SecureContext;
}

const ID = /^[a-z0-9][a-z0-9._@*-]{0,199}$/;
const HOST = /^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const MAX_HOSTS = 100;
const MAX_FILE_BYTES = 256 * 1024;

export class CertificateStore {
  private byId = new Map<string, Loaded>();
  private byHost = new Map<string, SecureContext>();
  private readonly serialize = createSerial();

  constructor(
    private readonly dir: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Loads the snapshot files; an unusable one is skipped with an error line, like the route snapshot. */
  async load(): Promise<void> {
    const names = await readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      try {
        const data = JSON.parse(await readSmallFile(join(this.dir, name), MAX_FILE_BYTES)) as unknown;
        const input = parseCertificateInput(data);
        const id = parseId((data as { id?: unknown }).id);
        // An expired certificate still serves (monitoring sees it, browsers refuse it either way) until the agent replaces it.
        this.byId.set(id, build(id, input, 0));
      } catch (e) {
        this.log(`error: ignoring unusable certificate snapshot ${name}: ${(e as Error).message}`);
      }
    }
    this.reindex();
  }

  /** Checks, snapshots, then serves; resolves once all three are done. */
  put(id: string, body: unknown): Promise<CertificateSummary> {
    const key = parseId(id);
    const input = parseCertificateInput(body);
    const loaded = build(key, input, Date.now());
    return this.serialize(async () => {
      await this.write(key, input);
      this.byId.set(key, loaded);
      this.reindex();
      this.log(`certificate ${key} installed hosts=${input.hosts.join(',')} not_after=${new Date(loaded.info.notAfter).toISOString()}`);
      return summary(loaded);
    });
  }

  delete(id: string): Promise<void> {
    const key = parseId(id);
    return this.serialize(async () => {
      await unlink(join(this.dir, `${key}.json`)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
      if (this.byId.delete(key)) {
        this.reindex();
        this.log(`certificate ${key} removed`);
      }
    });
  }

  /** What a cluster worker needs to serve the same certificates (agent/router/cluster-primary.ts). */
  entries(): Array<{ id: string; input: CertificateInput }> {
    return [...this.byId.values()].map((c) => ({ id: c.id, input: { hosts: c.hosts, cert_pem: c.cert_pem, key_pem: c.key_pem } }));
  }

  /** In a cluster worker: serves a certificate the primary checked and stored; no file is written. */
  adopt(id: string, input: CertificateInput): void {
    this.byId.set(parseId(id), build(id, input, 0));
    this.reindex();
  }

  /** In a cluster worker: stops serving a certificate the primary deleted. */
  forget(id: string): void {
    if (this.byId.delete(id)) this.reindex();
  }

  list(): CertificateSummary[] {
    return [...this.byId.values()].map(summary);
  }

  /** The context for a TLS client's SNI name: the exact host, then a one-label wildcard. */
  contextFor(serverName: string): SecureContext | undefined {
    for (const name of sniCandidates(serverName)) {
      const context = this.byHost.get(name);
      if (context) return context;
    }
    return undefined;
  }

  hasCertificateFor(host: string): boolean {
    return this.contextFor(host) !== undefined;
  }

  private reindex(): void {
    const next = new Map<string, SecureContext>();
    // Sorted by id, so when two certificates claim one host the choice does not depend on arrival order.
    for (const id of [...this.byId.keys()].sort()) {
      const loaded = this.byId.get(id)!;
      for (const host of loaded.hosts) next.set(host, loaded.context);
    }
    this.byHost = next;
  }

  private async write(id: string, input: CertificateInput): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileDurably(join(this.dir, `${id}.json`), `${JSON.stringify({ id, ...input })}\n`, 0o600);
  }
}

function build(id: string, input: CertificateInput, nowMs: number): Loaded {
  const info = checkCertificate(input.cert_pem, input.key_pem, input.hosts, nowMs);
  return { id, ...input, info, context: createSecureContext({ cert: input.cert_pem, key: input.key_pem, minVersion: 'TLSv1.2' }) };
}

function summary(c: Loaded): CertificateSummary {
  return { id: c.id, hosts: [...c.hosts], not_after: new Date(c.info.notAfter).toISOString(), sha256: c.info.sha256 };
}

export function parseId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id) || id.includes('..')) {
    throw new UserError('a certificate id is 1-200 of a-z 0-9 . _ @ * - and starts with a letter or digit', undefined, 'invalid_certificate_id');
  }
  return id;
}

/** The body of PUT /certificates/:id, shape only; checkCertificate judges the PEM. */
export function parseCertificateInput(body: unknown): CertificateInput {
  const b = body as Partial<Record<keyof CertificateInput, unknown>> | null;
  if (typeof b !== 'object' || b === null) throw new UserError('the body must be {hosts, cert_pem, key_pem}');
  const hosts = b.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0 || hosts.length > MAX_HOSTS) {
    throw new UserError(`hosts must be a list of 1 to ${MAX_HOSTS} host names`);
  }
  const normalized = hosts.map((h) => {
    if (typeof h !== 'string' || h.length > 253 || !HOST.test(h.toLowerCase())) {
      throw new UserError(`hosts: ${JSON.stringify(String(h).slice(0, 100))} is not a host name`);
    }
    return h.toLowerCase();
  });
  if (typeof b.cert_pem !== 'string' || typeof b.key_pem !== 'string') throw new UserError('cert_pem and key_pem must be PEM strings');
  return { hosts: normalized, cert_pem: b.cert_pem, key_pem: b.key_pem };
}
