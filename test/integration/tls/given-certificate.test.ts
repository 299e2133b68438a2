// A certificate given by a release (sealed PEM, opened by the deploy phase) goes
// through the agent's TLS service into a real router process: checked against
// the role's hosts, kept 0600, served by SNI; an unusable one is refused with
// certificate_invalid, naming the problem and never the PEM, and nothing changes.
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLogger } from '../../../agent/log.js';
import { createRouterClient } from '../../../agent/router/client.js';
import { openStore, type Store } from '../../../agent/store/index.js';
import { tlsFiles } from '../../../agent/tls/files.js';
import { createTlsService, type TlsService } from '../../../agent/tls/service.js';
import { startRouterProcess, tempDir, type RouterProcess } from '../../support/router-fixtures.js';
import { handshake, makeCa, makeLeaf, type TestCa } from '../../support/tls-certs.js';
import { waitFor } from '../../support/wait.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let store: Store;
let tls: TlsService;
let ca: TestCa;
const logged: string[] = [];
const role = { service: 'shop', destination: '', routeName: 'shop', hosts: ['shop.test', 'www.shop.test'] };

before(async () => {
  dir = await tempDir();
  ca = makeCa();
  router = await startRouterProcess(join(dir.path, 'router-state'));
  store = openStore(join(dir.path, 'berth.db'));
  tls = createTlsService({
    store,
    files: tlsFiles(dir.path),
    router: createRouterClient(router.socketPath),
    acme: { directoryUrl: 'https://127.0.0.1:1/dir' },
    log: createLogger('test', (l) => logged.push(l)),
  });
});
after(async () => {
  router.child.kill('SIGKILL');
  await router.exited;
  store.close();
  ca.remove();
  await dir.remove();
});

test('a given certificate covering every host is installed and served; the same one again is not rewritten', async () => {
  const leaf = makeLeaf(ca, ['shop.test', 'www.shop.test']);
  const said: string[] = [];
  await tls.prepare({ ...role, given: { certPem: leaf.certPem, keyPem: leaf.keyPem } }, (m) => said.push(m));
  assert.match(said[0]!, /^certificate for shop\.test, www\.shop\.test: given \(expires \d{4}-\d\d-\d\d\); warning: it expires in 9 day\(s\), renew it$/);
  const a = await handshake(router.httpsPort, 'shop.test', ca.certPem);
  const b = await handshake(router.httpsPort, 'www.shop.test', ca.certPem);
  assert.ok(a.serial && a.serial === b.serial, JSON.stringify([a, b]));
  assert.equal(statSync(join(dir.path, 'tls', 'certs', 'pem-shop', 'key.pem')).mode & 0o777, 0o600);
  const row = store.certificates.get('pem-shop')!;
  assert.deepEqual([row.source, row.hosts], ['pem', ['shop.test', 'www.shop.test']]);
  assert.ok(!JSON.stringify(store.dump()).includes('PRIVATE KEY'));
  await tls.prepare({ ...role, given: { certPem: leaf.certPem, keyPem: leaf.keyPem } }, () => undefined);
  assert.equal(store.certificates.get('pem-shop')!.issued_at, row.issued_at, 'the same certificate is not installed again');
});

test('a given certificate that does not fit is refused with certificate_invalid and changes nothing', async () => {
  const before = store.certificates.all();
  const served = await handshake(router.httpsPort, 'shop.test', ca.certPem);
  const narrow = makeLeaf(ca, ['shop.test']);
  const other = makeLeaf(ca, ['shop.test', 'www.shop.test']);
  const cases: Array<[{ certPem: string; keyPem: string }, RegExp]> = [
    [{ certPem: narrow.certPem, keyPem: narrow.keyPem }, /the certificate given for shop: the certificate does not cover www\.shop\.test/],
    [{ certPem: other.certPem, keyPem: narrow.keyPem }, /does not match/],
    [{ certPem: 'not a certificate', keyPem: other.keyPem }, /not PEM/],
  ];
  for (const [given, message] of cases) {
    await assert.rejects(tls.prepare({ ...role, given }, () => undefined), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'certificate_invalid');
      assert.match(e.message, message);
      assert.ok(!e.message.includes('-----BEGIN'));
      return true;
    });
  }
  assert.deepEqual(store.certificates.all(), before);
  assert.deepEqual(await handshake(router.httpsPort, 'shop.test', ca.certPem), served);
  assert.ok(!logged.join('\n').includes('PRIVATE KEY'));
});

test('automatic certificates refuse a wildcard host before asking any ACME server', async () => {
  await assert.rejects(tls.prepare({ ...role, routeName: 'w', hosts: ['*.w.test'] }, () => undefined), { code: 'certificate_invalid' });
  assert.ok(!existsSync(join(dir.path, 'tls', 'acme')), 'no ACME account was made');
});

test('sync puts back what a router lost', async () => {
  const client = createRouterClient(router.socketPath);
  await client.deleteCertificate('pem-shop');
  assert.ok((await handshake(router.httpsPort, 'shop.test', ca.certPem)).error);
  await tls.sync();
  assert.ok((await handshake(router.httpsPort, 'shop.test', ca.certPem)).serial);
});

test('switching the role to issued certificates drops the given one, so SNI cannot serve a stale certificate', async () => {
  const issuedBy = createTlsService({
    store,
    files: tlsFiles(dir.path),
    router: createRouterClient(router.socketPath),
    acme: { directoryUrl: 'https://127.0.0.1:1/dir' },
    log: createLogger('test', (l) => logged.push(l)),
    // The ACME leg is pebble's to test (test/e2e/https.test.ts); here a local CA stands in.
    issue: async (host) => {
      const leaf = makeLeaf(ca, [host]);
      return { certPem: leaf.certPem, keyPem: leaf.keyPem };
    },
  });
  const said: string[] = [];
  await issuedBy.prepare(role, (m) => said.push(m));
  assert.deepEqual(said.map((m) => m.replace(/ by .*/, '')), ['certificate for shop.test: issued', 'certificate for www.shop.test: issued']);
  assert.deepEqual(store.certificates.all().map((r) => r.id), ['acme-shop.test', 'acme-www.shop.test']);
  assert.deepEqual((await createRouterClient(router.socketPath).listCertificates()).map((c) => c.id).sort(), ['acme-shop.test', 'acme-www.shop.test']);
  const a = await handshake(router.httpsPort, 'shop.test', ca.certPem);
  const b = await handshake(router.httpsPort, 'www.shop.test', ca.certPem);
  assert.ok(a.serial && b.serial && a.serial !== b.serial);
  assert.ok(!existsSync(join(dir.path, 'tls', 'certs', 'pem-shop')));
  await issuedBy.stop();
});

test('a failed renewal backs off, is recorded and told, and the router keeps the old certificate', async () => {
  const served = await handshake(router.httpsPort, 'shop.test', ca.certPem);
  const told: string[] = [];
  const later = Date.now() + 365 * 86_400_000;
  const renewer = createTlsService({
    store,
    files: tlsFiles(dir.path),
    router: createRouterClient(router.socketPath),
    acme: { directoryUrl: 'https://127.0.0.1:1/dir' },
    log: createLogger('test', (l) => logged.push(l)),
    // A year on: every certificate is past its renewal time.
    now: () => later,
    random: () => 0.5,
    issue: async () => {
      throw new Error('the ACME server said no');
    },
    notifyFailure: async (rec, error) => {
      told.push(`${rec.id}: ${error}`);
    },
  });
  renewer.start();
  try {
    await waitFor('both renewals to fail', () => told.length === 2);
  } finally {
    await renewer.stop();
  }
  assert.deepEqual(told, ['acme-shop.test: the ACME server said no', 'acme-www.shop.test: the ACME server said no']);
  for (const rec of store.certificates.all()) {
    assert.equal(rec.failures, 1);
    assert.equal(rec.last_error, 'the ACME server said no');
    // Expired a year ago: the hourly-doubling step (1 h for the first failure, jitter at its middle).
    assert.equal(rec.next_attempt_at, later + 3_600_000);
  }
  assert.deepEqual(await handshake(router.httpsPort, 'shop.test', ca.certPem), served);
});
