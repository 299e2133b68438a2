// HTTPS in the router process: certificates sent over the control socket are
// served by SNI, kept across a restart, and refused when unusable; HTTP-01
// answers and the redirect to HTTPS on plain HTTP.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { routeSet, send, startRouterProcess, startUpstream, tempDir, type RouterProcess, type Upstream } from '../../support/router-fixtures.js';
import { handshake, httpsGet, makeCa, makeLeaf, type TestCa } from '../../support/tls-certs.js';
import { waitFor } from '../../support/wait.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let app: Upstream;
let ca: TestCa;
const client = () => createRouterClient(router.socketPath);

before(async () => {
  dir = await tempDir();
  ca = makeCa();
  app = await startUpstream('app');
  router = await startRouterProcess(dir.path);
  await client().putRoutes(
    routeSet(1, [
      { service: 'a', hosts: ['a.test'], target: app.target, tls: { redirect: true } },
      { service: 'b', hosts: ['b.test'], target: app.target, tls: { redirect: false } },
      { service: 'w', hosts: ['*.w.test'], target: app.target },
      { service: 'p', hosts: ['pending.test'], target: app.target, tls: { redirect: true } },
    ]),
  );
});
after(async () => {
  router.child.kill('SIGKILL');
  await router.exited;
  await app.close();
  ca.remove();
  await dir.remove();
});

function raw(method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: router.socketPath, method, path, headers: { host: 'router' }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The status of a PUT that declares a body over the control cap and sends none (so no write races the refusal). */
function declaredTooLarge(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: router.socketPath, method: 'PUT', path, headers: { host: 'router', 'content-length': String(1100 * 1024) }, agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
  });
}

test('the router listens on HTTPS before it has any certificate, and fails handshakes it cannot serve', async () => {
  assert.deepEqual(await client().listCertificates(), []);
  assert.match((await handshake(router.httpsPort, 'a.test', ca.certPem)).error ?? '', /HANDSHAKE_FAILURE|EPROTO/);
  // Plain HTTP is not redirected while the host has no certificate.
  assert.equal((await send(router.port, 'pending.test', '/')).status, 200);
});

test('SNI picks each host its own certificate, a one-label wildcard serves one label only', async () => {
  const a = makeLeaf(ca, ['a.test']);
  const b = makeLeaf(ca, ['b.test']);
  const w = makeLeaf(ca, ['*.w.test']);
  const put = await client().putCertificate('acme-a.test', { hosts: ['a.test'], cert_pem: a.certPem, key_pem: a.keyPem });
  assert.equal(put.id, 'acme-a.test');
  await client().putCertificate('acme-b.test', { hosts: ['b.test'], cert_pem: b.certPem, key_pem: b.keyPem });
  await client().putCertificate('pem-w', { hosts: ['*.w.test'], cert_pem: w.certPem, key_pem: w.keyPem });
  const sa = await httpsGet(router.httpsPort, 'a.test', '/headers', ca.certPem);
  const sb = await httpsGet(router.httpsPort, 'b.test', '/', ca.certPem);
  const sw = await httpsGet(router.httpsPort, 'x.w.test', '/', ca.certPem);
  assert.equal(sa.status, 200);
  assert.equal(JSON.parse(sa.body)['x-forwarded-proto'], 'https');
  assert.equal(sa.names, 'DNS:a.test');
  assert.equal(sb.names, 'DNS:b.test');
  assert.equal(sw.names, 'DNS:*.w.test');
  assert.notEqual(sa.serial, sb.serial);
  assert.ok((await handshake(router.httpsPort, 'y.x.w.test', ca.certPem)).error, 'a wildcard matches one label only');
  assert.ok((await handshake(router.httpsPort, 'unknown.test', ca.certPem)).error);
  assert.ok((await handshake(router.httpsPort, undefined, ca.certPem)).error, 'no SNI, no certificate');
  const listed = await client().listCertificates();
  assert.deepEqual(listed.map((c) => c.id).sort(), ['acme-a.test', 'acme-b.test', 'pem-w']);
  assert.ok(!JSON.stringify(listed).includes('PRIVATE KEY'));
});

test('plain HTTP redirects to HTTPS with path and query, except with redirect false and on the reserved paths', async () => {
  const r = await send(router.port, 'a.test:8080', '/x/y?z=1&q=2');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://a.test/x/y?z=1&q=2');
  assert.equal(r.headers.connection, 'close');
  assert.equal((await send(router.port, 'b.test', '/')).body, 'app', 'redirect: false serves over HTTP');
  assert.equal((await send(router.port, 'a.test', '/.well-known/acme-challenge/nope')).status, 404);
  assert.notEqual((await send(router.port, 'a.test', '/.berth/webhooks/x', { method: 'POST', body: '{}' })).status, 301);
  // Over HTTPS the same route serves the app.
  assert.equal((await httpsGet(router.httpsPort, 'a.test', '/', ca.certPem)).body, 'app');
});

test('HTTP-01 answers: the key authorization for its host only, on any host, until deleted', async () => {
  const token = 'tok_EN-1';
  await client().putChallenge(token, 'new.test', `${token}.thumb`);
  const ok = await send(router.port, 'new.test:5002', `/.well-known/acme-challenge/${token}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body, `${token}.thumb`);
  assert.equal((await send(router.port, 'a.test', `/.well-known/acme-challenge/${token}`)).status, 404, 'another host');
  assert.equal((await send(router.port, 'new.test', `/.well-known/acme-challenge/${token}`, { method: 'POST', body: 'x' })).status, 405);
  await client().deleteChallenge(token);
  assert.equal((await send(router.port, 'new.test', `/.well-known/acme-challenge/${token}`)).status, 404);
  await assert.rejects(client().putChallenge('bad~token', 'new.test', 'x.y'), { code: 'invalid_token' });
  await assert.rejects(client().putChallenge('t1', 'new.test', 'other.thumb'), /key_authorization/);
});

test('unusable certificates are refused with the reason, never echo PEM, and change nothing', async () => {
  const before = JSON.stringify(await client().listCertificates());
  const good = makeLeaf(ca, ['c.test']);
  const other = makeLeaf(ca, ['c.test']);
  const expired = makeLeaf(ca, ['c.test'], { start: '20200101000000Z', end: '20200201000000Z' });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['malformed PEM', { hosts: ['c.test'], cert_pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', key_pem: good.keyPem }, /does not parse/],
    ['no PEM at all', { hosts: ['c.test'], cert_pem: 'hello', key_pem: good.keyPem }, /not PEM/],
    ['key mismatch', { hosts: ['c.test'], cert_pem: good.certPem, key_pem: other.keyPem }, /does not match/],
    ['expired', { hosts: ['c.test'], cert_pem: expired.certPem, key_pem: expired.keyPem }, /expired on 2020-02-01/],
    ['host not covered', { hosts: ['c.test', 'd.test'], cert_pem: good.certPem, key_pem: good.keyPem }, /does not cover d\.test/],
    ['bad host', { hosts: ['c.test/x'], cert_pem: good.certPem, key_pem: good.keyPem }, /not a host name/],
    ['oversized chain', { hosts: ['c.test'], cert_pem: good.certPem.repeat(120), key_pem: good.keyPem }, /larger than 65536 bytes/],
    ['long chain', { hosts: ['c.test'], cert_pem: good.certPem.repeat(11), key_pem: good.keyPem }, /more than 10 certificates/],
  ];
  for (const [name, body, reason] of cases) {
    const r = await raw('PUT', '/certificates/acme-c.test', JSON.stringify(body));
    assert.equal(r.status, 400, name);
    assert.match(r.text, reason, name);
    assert.ok(!r.text.includes('-----BEGIN') && !r.text.includes(good.keyPem.split('\n')[1]!), `${name}: no PEM in the refusal`);
  }
  assert.equal(await declaredTooLarge('/certificates/acme-c.test'), 413);
  assert.equal((await raw('PUT', '/certificates/..evil', JSON.stringify({ hosts: ['c.test'], cert_pem: good.certPem, key_pem: good.keyPem }))).status, 400);
  assert.equal(JSON.stringify(await client().listCertificates()), before);
  assert.ok(!(await readdir(join(dir.path, 'router', 'tls'))).some((n) => n.includes('c.test')));
});

test('certificates are 0600 files and still served after a router restart, before any agent resends them', async () => {
  const tlsDir = join(dir.path, 'router', 'tls');
  assert.equal((await stat(tlsDir)).mode & 0o777, 0o700);
  for (const name of await readdir(tlsDir)) assert.equal((await stat(join(tlsDir, name))).mode & 0o777, 0o600, name);
  const served = (await httpsGet(router.httpsPort, 'a.test', '/', ca.certPem)).serial;
  router.child.kill('SIGKILL');
  await router.exited;
  router = await startRouterProcess(dir.path, router.port, { httpsPort: router.httpsPort });
  const again = await waitFor('HTTPS after restart', async () => {
    const r = await httpsGet(router.httpsPort, 'a.test', '/', ca.certPem).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  assert.equal(again.serial, served);
  await client().deleteCertificate('acme-b.test');
  assert.ok((await handshake(router.httpsPort, 'b.test', ca.certPem)).error);
  assert.ok(!(await readdir(tlsDir)).includes('acme-b.test.json'));
});
