// What the agent knows of each certificate it serves (agent/tls/): hosts,
// validity, fingerprint, and the renewal state. The PEM bytes live in 0600
// files (agent/tls/store.ts); no key ever reaches this table.
import type { Db } from './db.js';

export interface CertificateRecord {
  id: string;
  source: 'acme' | 'pem';
  hosts: string[];
  service: string;
  destination: string;
  not_before: number;
  not_after: number;
  sha256: string;
  issuer: string;
  issued_at: number;
  renew_after: number;
  failures: number;
  next_attempt_at: number | null;
  last_error: string | null;
}

type Row = Omit<CertificateRecord, 'hosts'> & { hosts: string } & Record<string, unknown>;

const toRecord = (r: Row): CertificateRecord => ({ ...r, hosts: JSON.parse(r.hosts) as string[] });

export function createCertificatesRepo(db: Db) {
  return {
    get(id: string): CertificateRecord | undefined {
      const row = db.get<Row>('SELECT * FROM certificates WHERE id = ?', id);
      return row ? toRecord(row) : undefined;
    },
    all(): CertificateRecord[] {
      return db.all<Row>('SELECT * FROM certificates ORDER BY id').map(toRecord);
    },
    /** Inserts or replaces the row of a newly installed certificate (the failure count starts over). */
    put(c: Omit<CertificateRecord, 'failures' | 'next_attempt_at' | 'last_error'>): void {
      db.run(
        `INSERT INTO certificates (id, source, hosts, service, destination, not_before, not_after, sha256, issuer, issued_at, renew_after, failures, next_attempt_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)
         ON CONFLICT (id) DO UPDATE SET source = excluded.source, hosts = excluded.hosts, service = excluded.service,
           destination = excluded.destination, not_before = excluded.not_before, not_after = excluded.not_after, sha256 = excluded.sha256,
           issuer = excluded.issuer, issued_at = excluded.issued_at, renew_after = excluded.renew_after, failures = 0,
           next_attempt_at = NULL, last_error = NULL`,
        c.id, c.source, JSON.stringify(c.hosts), c.service, c.destination, c.not_before, c.not_after, c.sha256, c.issuer, c.issued_at, c.renew_after,
      );
    },
    /** A failed renewal: counted, with when to try again and why it failed. */
    failed(id: string, nextAttemptAt: number, error: string): void {
      db.run('UPDATE certificates SET failures = failures + 1, next_attempt_at = ?, last_error = ? WHERE id = ?', nextAttemptAt, error.slice(0, 1000), id);
    },
    remove(id: string): void {
      db.run('DELETE FROM certificates WHERE id = ?', id);
    },
  };
}

export type CertificatesRepo = ReturnType<typeof createCertificatesRepo>;
