// Pebble (Debian's `pebble` package), the ACME test server, for one test file:
// pebble plus pebble-challtestsrv as its DNS on free ports, every name
// resolving to 127.0.0.1 unless pointed elsewhere. HTTP-01 validation goes to
// `httpPort` on the resolved address: give the router that HTTP port. Recipe
// and measured facts: docs/internals.md "agent/tls" and notes/issue13-acme.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.js';

export interface Pebble {
  /** https://localhost:PORT/dir */
  directoryUrl: string;
  /** The CA of pebble's own listener (--acme-ca-file for the agent). */
  caFile: string;
  /** The root that signs the certificates pebble issues (new at every start). */
  rootPem: string;
  dns: { pointAt(host: string, ip: string): Promise<void>; clear(host: string): Promise<void> };
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The package ships no listener certificate: make one for localhost and 127.0.0.1. */
function listenerCertificate(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30',
    '-subj', '/CN=pebble listener CA', '-addext', 'basicConstraints=critical,CA:TRUE'], dir);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, 'tls.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.pem', '-days', '30', '-extfile', 'tls.ext'], dir);
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function post(port: number, path: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = net.connect({ host: '127.0.0.1', port }, () => {
      const text = JSON.stringify(body);
      req.end(`POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    });
    let answer = '';
    req.setEncoding('utf8').on('data', (d: string) => (answer += d));
    req.on('end', () => (answer.startsWith('HTTP/1.1 200') ? resolve() : reject(new Error(`challtestsrv ${path}: ${answer.slice(0, 200)}`))));
    req.on('error', reject);
  });
}

/** `ip`: where every name resolves (the router's address), 127.0.0.1 by default. */
export async function startPebble(opts: { httpPort: number; validitySeconds?: number; ip?: string }): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-pebble-'));
  listenerCertificate(dir);
  const [acme, mgmt, dns, chmgmt, tlsAlpn] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  writeFileSync(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acme}`, managementListenAddress: `127.0.0.1:${mgmt}`,
        certificate: join(dir, 'tls.pem'), privateKey: join(dir, 'tls.key'),
        httpPort: opts.httpPort, tlsPort: tlsAlpn, ocspResponderURL: '', externalAccountBindingRequired: false,
        // Let's Encrypt's 90 days unless a test asks for short-lived certificates.
        certificateValidityPeriod: opts.validitySeconds ?? 90 * 86_400,
      },
    }),
  );
  let output = '';
  const children: ChildProcess[] = [];
  const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    children.push(child);
  };
  // -defaultIPv6 "": no AAAA answer, so validation never goes to ::1 where the router does not listen.
  run('pebble-challtestsrv', ['-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${chmgmt}`, '-defaultIPv4', opts.ip ?? '127.0.0.1', '-defaultIPv6', '']);
  // NOSLEEP: no random 0-15 s before each validation; NONCEREJECT 0: no random badNonce;
  // AUTHZREUSE 0: a new order validates again (a failed renewal must really fail).
  run('pebble', ['-config', join(dir, 'pebble.json'), '-strict=false', '-dnsserver', `127.0.0.1:${dns}`],
    { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' });
  const caFile = join(dir, 'ca.pem');
  const ca = readFileSync(caFile, 'utf8');
  const directoryUrl = `https://localhost:${acme}/dir`;
  const stop = async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('pebble to serve its directory', async () => (await get(directoryUrl, ca).catch(() => undefined))?.status === 200, 15_000, {
      explain: () => output,
    });
    await waitFor('challtestsrv management', () => post(chmgmt, '/clear-a', { host: 'none.test' }).then(() => true, () => false), 15_000, {
      explain: () => output,
    });
    const root = await get(`https://127.0.0.1:${mgmt}/roots/0`, ca);
    return {
      directoryUrl,
      caFile,
      rootPem: root.body,
      dns: {
        pointAt: (host, ip) => post(chmgmt, '/add-a', { host, addresses: [ip] }),
        clear: (host) => post(chmgmt, '/clear-a', { host }),
      },
      log: () => output,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
