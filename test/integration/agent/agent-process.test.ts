// The real berth-agent process: init, run with HTTPS on a free port, identity
// over pinned TLS, and `trust add` taking effect while it runs.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { verifyIdentity } from '../../../shared/identity.js';
import { generateOperatorKey } from '../../../shared/keys.js';
import { signRequest } from '../../../shared/request-token.js';

const AGENT = resolve(import.meta.dirname, '../../../agent/main.js');
const exec = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'berth-agent-it-'));
let port = 0;
let agent: ChildProcess | undefined;
let output = '';
let certPem = '';

function cli(...args: string[]) {
  return exec(process.execPath, [AGENT, ...args, '--state-dir', dir]);
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
    s.on('error', rej);
  });
}

const fingerprint = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

/** HTTPS pinned to the agent's own certificate, never rejectUnauthorized: false. */
function get(path: string, authorization?: string): Promise<{ status: number; body: unknown }> {
  const pin = fingerprint(certPem);
  return new Promise((res, rej) => {
    const req = request(
      {
        host: '127.0.0.1', port, path, method: 'GET', ca: certPem,
        headers: authorization ? { authorization } : {},
        checkServerIdentity: (_host, cert) =>
          cert.fingerprint256.replace(/:/g, '').toLowerCase() === pin ? undefined : new Error('certificate does not match the pin'),
      },
      (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d.toString()));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: JSON.parse(text) as unknown }));
      },
    );
    req.on('error', rej);
    req.end();
  });
}

async function waitForHealth(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (agent?.exitCode !== null) throw new Error(`agent exited:\n${output}`);
    try {
      if ((await get('/v1/health')).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`agent did not answer /v1/health:\n${output}`);
}

before(async () => {
  const init = await cli('init', '--san', '127.0.0.1', '--san', 'agent.test');
  assert.match(init.stdout, /agent id: +[A-Za-z0-9_-]{43}/);
  certPem = readFileSync(join(dir, 'tls/cert.pem'), 'utf8');
  port = await freePort();
  agent = spawn(process.execPath, [
    AGENT, 'run', '--state-dir', dir, '--listen', `127.0.0.1:${port}`,
    // No Docker engine or router here: the agent must still serve its API.
    '--docker-host', `unix://${join(dir, 'no-docker.sock')}`, '--router-socket', join(dir, 'no-router.sock'),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  agent.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  agent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitForHealth();
});

after(async () => {
  if (agent && agent.exitCode === null) {
    const exited = new Promise((r) => agent!.once('exit', r));
    agent.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('berth-agent init', () => {
  it('writes private keys 0600 and keeps the identity on a second init', async () => {
    for (const f of ['identity.jwk', 'sealing.jwk', 'tls/key.pem']) {
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    }
    const before = readFileSync(join(dir, 'identity.jwk'), 'utf8');
    const again = await cli('init');
    assert.match(again.stdout, /kept existing identity/);
    assert.equal(readFileSync(join(dir, 'identity.jwk'), 'utf8'), before);
    assert.equal(readFileSync(join(dir, 'tls/cert.pem'), 'utf8'), certPem);
  });

  it('the certificate is EC P-256 with the requested and default SANs', () => {
    const cert = new X509Certificate(certPem);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    for (const san of ['IP Address:127.0.0.1', 'DNS:agent.test', 'DNS:localhost']) assert.ok(cert.subjectAltName?.includes(san), cert.subjectAltName);
  });

  it('refuses a SAN that is neither a name nor an IP (exit 1, nothing created)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'berth-agent-it-bad-'));
    try {
      await assert.rejects(exec(process.execPath, [AGENT, 'init', '--state-dir', other, '--san', 'a,b;rm']), (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr, /--san "a,b;rm" is neither an IP address nor a DNS name/);
        return true;
      });
      assert.throws(() => statSync(join(other, 'identity.jwk')));
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('berth-agent run', () => {
  it('serves /v1/health and /v1/identity over TLS pinned to its certificate', async () => {
    assert.deepEqual((await get('/v1/health')).body, { ok: true, version: '0.1.0' });
    const { status, body } = await get('/v1/identity');
    assert.equal(status, 200);
    const id = body as { document: string; agent_id: string; tls_fingerprint: string };
    const claims = await verifyIdentity(id.document);
    assert.equal(claims.tls_fingerprint, fingerprint(certPem));
    assert.equal(claims.agent_id, id.agent_id);
    const status2 = JSON.parse((await cli('status', '--json')).stdout) as { agent_id: string; tls_fingerprint: string; trusted_keys: number };
    assert.equal(status2.agent_id, id.agent_id);
    assert.equal(status2.tls_fingerprint, id.tls_fingerprint);
  });

  it('refuses authenticated calls with no trusted keys, and accepts them right after `trust add`', async () => {
    const key = await generateOperatorKey('it@test');
    const agentId = ((await get('/v1/identity')).body as { agent_id: string }).agent_id;
    const sign = async () =>
      `Berth ${await signRequest({ privateJwk: key.privateJwk, kid: key.kid, aud: agentId, method: 'GET', pathAndQuery: '/v1/services', body: '' })}`;

    const refused = await get('/v1/services', await sign());
    assert.equal(refused.status, 401);
    assert.equal((refused.body as { error: { code: string } }).error.code, 'no_trusted_keys');
    assert.match(output, /trusts no keys/);

    const added = await cli('trust', 'add', key.line, '--scope', 'read');
    assert.match(added.stdout, new RegExp(`trusted ${key.kid}`));
    const ok = await get('/v1/services', await sign());
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.body, { services: [] });

    const listed = JSON.parse((await cli('trust', 'list', '--json')).stdout) as { keys: Array<{ kid: string; scopes: string[] }> };
    assert.deepEqual(listed.keys.map((k) => [k.kid, k.scopes]), [[key.kid, ['read']]]);

    await cli('trust', 'remove', key.kid);
    const again = await get('/v1/services', await sign());
    assert.equal(again.status, 401);
  });

  it('exits cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => agent!.once('exit', (code) => r(code)));
    agent!.kill('SIGTERM');
    assert.equal(await exited, 0, output);
  });
});
