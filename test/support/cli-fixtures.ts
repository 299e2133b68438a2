// Fixtures for the CLI unit tests: temp dirs, a CliEnv, captured output,
// self-signed certificates made by openssl, and a local HTTPS "agent" that
// serves a real signed identity document.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import { after } from 'node:test';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import type { CliEnv } from '../../cli/env.js';
import { readKeyFile } from '../../cli/keys.js';
import { main } from '../../cli/main.js';
import { ConfigError } from '../../shared/errors.js';
import { signIdentity } from '../../shared/identity.js';
import { FEATURES } from '../../shared/version.js';
import { generateIdentityKeys, type IdentityKeys } from '../../shared/keys.js';

export function tempDir(prefix = 'berth-cli-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Call at a test file's top level: returns `app(files)`, which writes the files
 * (paths relative to a new temp app dir) and returns that dir; all are removed after the file's tests.
 */
export function appDirs(prefix = 'berth-cli-'): (files: Record<string, string | Buffer>) => string {
  const dirs: Array<{ cleanup(): void }> = [];
  after(() => dirs.forEach((d) => d.cleanup()));
  return (files) => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir.path, name, '..'), { recursive: true });
      writeFileSync(join(dir.path, name), text);
    }
    return dir.path;
  };
}

/** Awaits a ConfigError matching `pattern` whose message and hint contain none of `secrets`. */
export async function rejectsConfigError(promise: Promise<unknown>, pattern: RegExp, secrets: string[] = []): Promise<ConfigError> {
  let caught: unknown;
  await promise.catch((e: unknown) => {
    caught = e;
  });
  assert.ok(caught instanceof ConfigError, `expected ConfigError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  for (const secret of secrets) {
    assert.ok(!caught.message.includes(secret) && !(caught.hint ?? '').includes(secret), `message leaks ${secret}: ${caught.message} / ${caught.hint}`);
  }
  return caught;
}

export function testEnv(cwd: string, overrides: Partial<CliEnv> = {}): CliEnv {
  return { cwd, home: join(cwd, 'home'), xdgConfigHome: undefined, berthKey: undefined, noColor: true, stdoutIsTTY: false, stderrIsTTY: false, processEnv: { PATH: process.env.PATH }, ...overrides };
}

export function captureStream(): { stream: { write(text: string): boolean; isTTY?: boolean }; text(): string } {
  let out = '';
  return {
    stream: {
      write(text: string) {
        out += text;
        return true;
      },
    },
    text: () => out,
  };
}

/** `deploy ARGV` run in-process in `cwd` with its own XDG config dir: the exit code and what it printed. */
export function cliRunner(cwd: string, xdgConfigHome: string): (argv: string[]) => Promise<{ code: number; stdout: string; stderr: string }> {
  return async (argv) => {
    const stdout = captureStream();
    const stderr = captureStream();
    const code = await main({ argv, env: testEnv(cwd, { xdgConfigHome }), stdout: stdout.stream, stderr: stderr.stream });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };
}

export interface TestCert {
  cert: string;
  key: string;
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1, as an agent would have. */
export function makeCert(dir: string, name: string): TestCert {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), fingerprint: createHash('sha256').update(new X509Certificate(cert).raw).digest('hex') };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface FakeAgent {
  port: number;
  agentId: string;
  keys: IdentityKeys;
  requests: RecordedRequest[];
  /** TLS handshakes completed so far: one per connection a client opened. */
  tlsHandshakes(): number;
  close(): Promise<void>;
}

export type FakeRoute = (req: RecordedRequest, res: ServerResponse) => void;

/** Two fake agents and an app directory that knows them: what the fleet commands' tests stand on. */
export interface AgentPair {
  a: FakeAgent;
  b: FakeAgent;
  hostA: string;
  hostB: string;
}

/**
 * Starts agents A and B (`routeFor` answers for each; B on `bHost` when
 * given), writes deploy.yml naming both (`config`, or a plain one-role app),
 * creates the operator key and pins both servers.
 */
export async function startAgentPair(
  dir: string,
  run: ReturnType<typeof cliRunner>,
  routeFor: (name: 'A' | 'B') => FakeRoute,
  o: { bHost?: string; config?: (hostA: string, hostB: string) => string } = {},
): Promise<AgentPair> {
  const a = await startFakeAgent(makeCert(dir, 'a'), { route: routeFor('A') });
  const b = await startFakeAgent(makeCert(dir, 'b'), { ...(o.bHost ? { host: o.bHost } : {}), route: routeFor('B') });
  const hostA = `127.0.0.1:${a.port}`;
  const hostB = `${o.bHost ?? '127.0.0.1'}:${b.port}`;
  const config = o.config ?? ((x: string, y: string) => `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n  - ${x}\n  - ${y}\nproxy:\n  host: demo.test\n`);
  writeFileSync(join(dir, 'deploy.yml'), config(hostA, hostB));
  assert.equal((await run(['keys', 'new'])).code, 0);
  for (const h of [hostA, hostB]) assert.equal((await run(['server', 'add', h])).code, 0);
  return { a, b, hostA, hostB };
}

/** HTTPS on 127.0.0.1 (or `host`, another loopback address) with `cert`: GET /v1/identity answers a signed document; everything else goes to `route`. */
export async function startFakeAgent(cert: TestCert, options: { port?: number; host?: string; route?: FakeRoute; identityFingerprint?: string; features?: readonly string[] } = {}): Promise<FakeAgent> {
  const features = [...(options.features ?? FEATURES)];
  const keys = await generateIdentityKeys();
  const document = await signIdentity(
    {
      agent_id: keys.agentId,
      identity_jwk: keys.identity.publicJwk,
      sealing_jwk: keys.sealing.publicJwk,
      tls_fingerprint: options.identityFingerprint ?? cert.fingerprint,
      version: '0.1.0',
      features,
      iat: Math.floor(Date.now() / 1000),
    },
    keys.identity.privateJwk,
  );
  const requests: RecordedRequest[] = [];
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      if (recorded.method === 'GET' && recorded.url === '/v1/identity') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ document, agent_id: keys.agentId, tls_fingerprint: cert.fingerprint, sealing_jwk: keys.sealing.publicJwk, version: '0.1.0', features }));
        return;
      }
      if (options.route) return options.route(recorded, res);
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
    });
  });
  let handshakes = 0;
  server.on('secureConnection', () => void handshakes++);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    agentId: keys.agentId,
    keys,
    requests,
    tlsHandshakes: () => handshakes,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Enough of an agent for one push of service demo: no seq yet, 202 on POST (the manifest kept in `accepted`), a stream that ends DONE. */
export function pushRoutes(accepted: string[]): FakeRoute {
  return (req: RecordedRequest, res: ServerResponse) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/v1/services/demo?destination=') return json(404, { error: { code: 'not_found', message: 'never deployed' } });
    if (req.method === 'POST' && req.url === '/v1/releases') {
      accepted.push(JSON.parse(req.body.toString()).manifest);
      return json(202, { deploy: { id: 3, service: 'demo', destination: '', version: 'r1', state: 'RECEIVED' } });
    }
    if (req.method === 'GET' && req.url === '/v1/deploys/3/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const record = { id: 3, service: 'demo', destination: '', version: 'r1', seq: 1, image: 'x', state: 'DONE', error: null, key_id: 'k', created_at: '', updated_at: '' };
      return res.end(`event: end\ndata: ${JSON.stringify(record)}\n\n`);
    }
    json(404, { error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } });
  };
}

/**
 * An app directory with an operator key and two one-push agents sharing
 * `accepted`, the outdated one lacking `missingFeature`; `run` runs the CLI there.
 */
export async function featurePushFixture(missingFeature: string) {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const accepted: string[] = [];
  // The current agent has the feature even before shared/version.ts advertises it.
  const current = await startFakeAgent(makeCert(dir.path, 'current'), { route: pushRoutes(accepted), features: [...new Set([...FEATURES, missingFeature])] });
  const outdated = await startFakeAgent(makeCert(dir.path, 'outdated'), { route: pushRoutes(accepted), features: FEATURES.filter((f) => f !== missingFeature) });
  const run = async (argv: string[]) => {
    const stdout = captureStream();
    const stderr = captureStream();
    const code = await main({ argv, env: testEnv(dir.path, { xdgConfigHome: xdg }), stdout: stdout.stream, stderr: stderr.stream });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };
  assert.equal((await run(['keys', 'new'])).code, 0);
  const publicJwk = (await readKeyFile(join(xdg, 'berth', 'key.jwk'))).publicJwk;
  return {
    dir: dir.path,
    accepted,
    current,
    outdated,
    publicJwk,
    run,
    async close(): Promise<void> {
      await current.close();
      await outdated.close();
      dir.cleanup();
    },
  };
}
