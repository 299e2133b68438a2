// Test certificates made with openssl: a CA, and leaf certificates for given
// names signed by it (valid now, or with explicit dates for expired ones).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import https from 'node:https';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface TestCa {
  dir: string;
  certPem: string;
  remove(): void;
}

export interface TestLeaf {
  certPem: string;
  keyPem: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makeCa(cn = 'berth test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ca-'));
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
      '-days', '30', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE'],
    dir,
  );
  return { dir, certPem: readFileSync(join(dir, 'ca.pem'), 'utf8'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let counter = 0;

/** A P-256 leaf for `names` signed by `ca`; `dates` as openssl's YYYYMMDDHHMMSSZ for a certificate outside today. */
export function makeLeaf(ca: TestCa, names: string[], dates?: { start: string; end: string }): TestLeaf {
  const n = `leaf${++counter}`;
  const san = names.map((x) => `DNS:${x}`).join(',');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${names[0]}`], ca.dir);
  writeFileSync(join(ca.dir, `${n}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  if (!dates) {
    openssl(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '10', '-extfile', `${n}.ext`], ca.dir);
  } else {
    writeFileSync(join(ca.dir, `${n}.idx`), '');
    writeFileSync(
      join(ca.dir, `${n}.cnf`),
      `[ca]\ndefault_ca=c\n[c]\ndatabase=${n}.idx\nserial=${n}.srl\nnew_certs_dir=.\npolicy=p\ndefault_md=sha256\nunique_subject=no\n[p]\ncommonName=supplied\n`,
    );
    writeFileSync(join(ca.dir, `${n}.srl`), `${(1000 + counter).toString(16).padStart(4, '0')}\n`);
    openssl(['ca', '-batch', '-config', `${n}.cnf`, '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${n}.csr`, '-out', `${n}.pem`,
      '-startdate', dates.start, '-enddate', dates.end, '-extfile', `${n}.ext`, '-notext'], ca.dir);
  }
  return { certPem: readFileSync(join(ca.dir, `${n}.pem`), 'utf8'), keyPem: readFileSync(join(ca.dir, `${n}.key`), 'utf8') };
}

export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The serial of the certificate the server presented. */
  serial: string;
  names: string;
}

/** GET https://host:port/path at `address` with SNI `host`, trusting only `ca`. */
export function httpsGet(port: number, host: string, path: string, ca: string, address = '127.0.0.1'): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: address, port, path, servername: host, headers: { host }, ca, agent: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, serial: cert.serialNumber ?? '', names: cert.subjectaltname ?? '' }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
  });
}

/**
 * The handshake's outcome for SNI `servername` (none: no SNI): the served
 * serial, or the error code. `verify: false` also reports an expired certificate's serial.
 */
export function handshake(port: number, servername: string | undefined, ca: string, address = '127.0.0.1', verify = true): Promise<{ serial?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: address, port, ca, ...(servername ? { servername } : {}), rejectUnauthorized: verify && servername !== undefined }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve({ serial });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}
