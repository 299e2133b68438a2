// Kamal's `proxy: ssl: {certificate_pem, private_key_pem}`: a certificate given
// in .kamal/secrets is sealed to the agent, checked there against the role's
// hosts, and served; one that does not fit fails the deploy with
// certificate_invalid while the old release keeps serving. The PEM appears in
// no output, log or database.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deployYml } from '../support/deploy-cli.js';
import { explain, setupApp, type E2eApp } from '../support/e2e-app.js';
import { handshake, httpsGet, makeCa, makeLeaf, type TestCa } from '../support/tls-certs.js';

const IP = '127.0.0.2';
const NAME = 'given.test';
let e: E2eApp;
let ca: TestCa;

function configure(tag: string, cert: string, key: string): void {
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), `CERT_PEM="${cert}"\nKEY_PEM="${key}"\n`);
  const yml = deployYml({ service: e.service, image: e.image(tag), servers: e.hosts.map((h) => h.server), host: NAME });
  e.app.writeConfig(yml.replace(`  host: ${NAME}\n`, `  host: ${NAME}\n  ssl:\n    certificate_pem: CERT_PEM\n    private_key_pem: KEY_PEM\n`));
}

before(async () => {
  ca = makeCa();
  e = await setupApp('given');
});
after(async () => {
  await e?.teardown();
  ca.remove();
});

const port = () => e.hosts[0]!.httpsPort;

test('a given certificate is served, and its PEM shows up nowhere', async () => {
  const leaf = makeLeaf(ca, [NAME]);
  configure('v1', leaf.certPem, leaf.keyPem);
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  const served = await httpsGet(port(), NAME, '/', ca.certPem, IP);
  assert.equal(served.status, 200);
  assert.match(served.body, /v1/);
  assert.equal(served.names, `DNS:${NAME}`);
  const keyLine = leaf.keyPem.split('\n')[1]!;
  const certLine = leaf.certPem.split('\n')[1]!;
  const host = e.hosts[0]!;
  for (const [where, text] of [
    ['push output', r.stdout + r.stderr],
    ['agent log', host.agentLog()],
    ['router log', host.router?.output() ?? ''],
    ['database', readFileSync(join(host.stateDir, 'berth.db')).toString('latin1')],
  ] as const) {
    assert.ok(!text.includes(keyLine), `no key in the ${where}`);
    assert.ok(!text.includes('PRIVATE KEY'), `no key in the ${where}`);
    if (where !== 'database') assert.ok(!text.includes(certLine), `no certificate PEM in the ${where}`);
  }
});

test('a given certificate that does not fit fails the deploy with certificate_invalid; the old release keeps serving', async () => {
  const before = await handshake(port(), NAME, ca.certPem, IP);
  const wrongHost = makeLeaf(ca, ['other.test']);
  const other = makeLeaf(ca, [NAME]);
  for (const [cert, key, reason] of [
    [wrongHost.certPem, wrongHost.keyPem, /does not cover given\.test/],
    [other.certPem, wrongHost.keyPem, /private key does not match/],
  ] as const) {
    configure('v2', cert, key);
    const r = await e.push('v2');
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, reason, explain(r, e));
    assert.ok(!(r.stdout + r.stderr).includes('PRIVATE KEY'));
    const audit = await e.app.run(['audit', '--json']);
    assert.doesNotMatch(audit.stdout, /PRIVATE KEY/);
  }
  assert.deepEqual(await handshake(port(), NAME, ca.certPem, IP), before);
  assert.match((await httpsGet(port(), NAME, '/', ca.certPem, IP)).body, /v1/);
});
