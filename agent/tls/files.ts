// The agent's TLS files under <state>/tls/ (0700): one ACME account per
// directory, and per certificate its chain (0644) and key (0600). Written so a
// crash leaves the old file or the new one, never a torn one.
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { directoryKey, type AccountRecord, type AccountStore } from './acme.js';

export interface TlsFiles {
  accounts: AccountStore;
  writeCertificate(id: string, certPem: string, keyPem: string): Promise<void>;
  readCertificate(id: string): Promise<{ certPem: string; keyPem: string } | undefined>;
  removeCertificate(id: string): Promise<void>;
  /** Where a certificate's files are (for tests and operators). */
  certificateDir(id: string): string;
}

export function tlsFiles(stateDir: string): TlsFiles {
  const root = join(stateDir, 'tls');
  const certificateDir = (id: string) => join(root, 'certs', id);
  const accountFile = (directoryUrl: string) => join(root, 'acme', directoryKey(directoryUrl), 'account.json');
  return {
    accounts: {
      async load(directoryUrl) {
        const text = await readFile(accountFile(directoryUrl), 'utf8').catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return undefined;
          throw e;
        });
        if (text === undefined) return undefined;
        const data = JSON.parse(text) as { url?: string; key_pem: string };
        return { url: data.url, keyPem: data.key_pem } satisfies AccountRecord;
      },
      save: (directoryUrl, account) =>
        atomicWrite(root, accountFile(directoryUrl), `${JSON.stringify({ directory: directoryUrl, url: account.url, key_pem: account.keyPem })}\n`, 0o600),
    },
    async writeCertificate(id, certPem, keyPem) {
      await atomicWrite(root, join(certificateDir(id), 'key.pem'), keyPem, 0o600);
      await atomicWrite(root, join(certificateDir(id), 'cert.pem'), certPem, 0o644);
    },
    async readCertificate(id) {
      try {
        return {
          certPem: await readFile(join(certificateDir(id), 'cert.pem'), 'utf8'),
          keyPem: await readFile(join(certificateDir(id), 'key.pem'), 'utf8'),
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    removeCertificate: (id) => rm(certificateDir(id), { recursive: true, force: true }),
    certificateDir,
  };
}

async function atomicWrite(root: string, path: string, text: string, mode: number): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFileDurably(path, text, mode);
}
