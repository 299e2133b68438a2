// `proxy: ssl: true` against pebble: a real agent and router, a real Docker
// engine. The first deploy with ssl issues one certificate per host, served
// by SNI; plain HTTP redirects; a failed issuance fails the deploy naming the
// host and the ACME error while the old release keeps serving; the router
// serves HTTPS after a restart with the agent down.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { deployYml } from '../support/deploy-cli.js';
import { explain, setupApp, type E2eApp } from '../support/e2e-app.js';
import { freePort, startPebble, type Pebble } from '../support/pebble.js';
import { handshake, httpsGet } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const IP = '127.0.0.2';
let pebble: Pebble;
let e: E2eApp;
let rootFile: string;

function configure(tag: string, hosts: string[], proxyExtra: string): void {
  const yml = deployYml({ service: e.service, image: e.image(tag), servers: e.hosts.map((h) => h.server), host: hosts[0]! });
  e.app.writeConfig(yml.replace(`  host: ${hosts[0]}\n`, `  hosts:\n${hosts.map((h) => `    - ${h}\n`).join('')}${proxyExtra}`));
}

before(async () => {
  const httpPort = await freePort();
  pebble = await startPebble({ httpPort, ip: IP });
  e = await setupApp('tls', {
    httpPorts: [httpPort],
    agentEnv: { BERTH_ACME_DIRECTORY: pebble.directoryUrl, BERTH_ACME_CA_FILE: pebble.caFile },
  });
  rootFile = join(e.app.dir, 'pebble-root.pem');
  writeFileSync(rootFile, pebble.rootPem);
});
after(async () => {
  await e?.teardown();
  await pebble?.stop();
});

const host = () => e.hosts[0]!;

async function curl(name: string, path = '/'): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${name}:${host().httpsPort}:${IP}`, `https://${name}:${host().httpsPort}${path}`]);
  return stdout;
}

test('the first deploy with ssl issues a certificate per host; HTTPS serves the app by SNI and HTTP redirects', async () => {
  configure('v1', ['tls.test', 'www.tls.test'], '');
  const r1 = await e.push('v1');
  assert.equal(r1.code, 0, explain(r1, e));
  assert.equal((await host().get('tls.test')).status, 200, 'v1 over plain HTTP, no ssl yet');

  configure('v2', ['tls.test', 'www.tls.test'], '  ssl: true\n');
  const started = Date.now();
  const r2 = await e.push('v2');
  assert.equal(r2.code, 0, explain(r2, e));
  const issued = host().agentLog().split('\n').filter((l) => l.includes('certificate issued')).map((l) => / ms=(\d+)/.exec(l)?.[1]);
  console.log(`# deploy with two issuances: ${Date.now() - started} ms; each issuance (ms): ${issued.join(', ')}`);
  assert.match(await curl('tls.test'), /v2/);
  const apex = await httpsGet(host().httpsPort, 'tls.test', '/', pebble.rootPem, IP);
  const www = await httpsGet(host().httpsPort, 'www.tls.test', '/', pebble.rootPem, IP);
  assert.equal(apex.names, 'DNS:tls.test');
  assert.equal(www.names, 'DNS:www.tls.test');
  assert.notEqual(apex.serial, www.serial);
  assert.ok((await handshake(host().httpsPort, 'other.test', pebble.rootPem, IP)).error, 'no certificate, no handshake');

  const redirect = await host().get('tls.test', '/x?y=1');
  assert.equal(redirect.status, 301);
  assert.equal((await fetchHead(host().httpPort, 'tls.test', '/x?y=1')).location, 'https://tls.test/x?y=1');
  assert.equal((await host().get('tls.test', '/.well-known/acme-challenge/none')).status, 404, 'the challenge path is never redirected');

  // Keys: 0600 files; never in the database or the logs.
  for (const id of ['acme-tls.test', 'acme-www.tls.test']) {
    assert.equal(statSync(join(host().stateDir, 'tls', 'certs', id, 'key.pem')).mode & 0o777, 0o600);
    assert.equal(statSync(join(host().stateDir, 'router', 'tls', `${id}.json`)).mode & 0o777, 0o600);
  }
  const accounts = readdirSync(join(host().stateDir, 'tls', 'acme'));
  assert.equal(accounts.length, 1, 'one ACME account for the directory');
  assert.equal(statSync(join(host().stateDir, 'tls', 'acme', accounts[0]!, 'account.json')).mode & 0o777, 0o600);
  assert.equal(statSync(join(host().stateDir, 'tls')).mode & 0o777, 0o700);
  const keyBody = readFileSync(join(host().stateDir, 'tls', 'certs', 'acme-tls.test', 'key.pem'), 'utf8').split('\n')[1]!;
  assert.ok(!readFileSync(join(host().stateDir, 'berth.db')).includes(keyBody), 'no key in the database');
  assert.ok(!readFileSync(join(host().stateDir, 'berth.db')).includes('PRIVATE KEY'));
  assert.ok(!host().agentLog().includes('PRIVATE KEY') && !(host().router?.output() ?? '').includes('PRIVATE KEY'), 'no key in the logs');
  assert.ok(!r2.stdout.includes('PRIVATE KEY') && !r2.stderr.includes('PRIVATE KEY'));
});

test('ssl_redirect: false serves plain HTTP too, and a redeploy reuses the certificates', async () => {
  const before = await httpsGet(host().httpsPort, 'tls.test', '/', pebble.rootPem, IP);
  configure('v1', ['tls.test', 'www.tls.test'], '  ssl: true\n  ssl_redirect: false\n');
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  const plain = await host().get('tls.test');
  assert.equal(plain.status, 200);
  assert.match(plain.body, /v1/);
  const after = await httpsGet(host().httpsPort, 'tls.test', '/', pebble.rootPem, IP);
  assert.match(after.body, /v1/);
  assert.equal(after.serial, before.serial, 'no new order while the certificate is valid');
});

test('a host pebble cannot validate fails the deploy with certificate_failed naming it; the old release keeps serving', async () => {
  await pebble.dns.pointAt('bad.tls.test', '127.0.0.9');
  configure('v2', ['tls.test', 'www.tls.test', 'bad.tls.test'], '  ssl: true\n');
  const r = await e.push('v2');
  assert.notEqual(r.code, 0);
  const out = r.stdout + r.stderr;
  assert.match(out, /bad\.tls\.test/, out);
  assert.match(out, /urn:ietf:params:acme:error:connection/, out);
  const audit = await e.app.run(['audit', '--json']);
  const failed = audit.stdout.split('\n').find((l) => l.includes('"action":"certificate.failed"')) ?? audit.stdout;
  assert.match(failed, /"code":"certificate_failed"/, failed);
  assert.match(failed, /"host":"bad\.tls\.test"/, failed);
  assert.match(audit.stdout, /"action":"certificate\.issued"/);
  assert.match(await curl('tls.test'), /v1/, 'v1 still serves over HTTPS');
  assert.match((await host().get('tls.test')).body, /v1/, 'and over HTTP (its routes unchanged)');
  assert.ok(!readdirSync(join(host().stateDir, 'tls', 'certs')).includes('acme-bad.tls.test'));
});

test('an unreachable ACME directory fails fast with acme_unreachable naming it', async () => {
  await host().killAgent();
  const closed = await freePort();
  const dead = `https://127.0.0.1:${closed}/dir`;
  await host().startAgent({ BERTH_ACME_DIRECTORY: dead, BERTH_ACME_CA_FILE: pebble.caFile });
  configure('v2', ['tls.test', 'new.tls.test'], '  ssl: true\n');
  const started = Date.now();
  const r = await e.push('v2');
  assert.notEqual(r.code, 0);
  const audit = await e.app.run(['audit', '--json']);
  assert.match(audit.stdout, /"code":"acme_unreachable"/);
  assert.match(r.stdout + r.stderr, new RegExp(`ACME directory ${dead.replace(/[./]/g, '\\$&')} unreachable: ECONNREFUSED`), explain(r, e));
  assert.ok(Date.now() - started < 60_000);
  assert.match(await curl('tls.test'), /v1/);
  await host().killAgent();
  await host().startAgent({ BERTH_ACME_DIRECTORY: pebble.directoryUrl, BERTH_ACME_CA_FILE: pebble.caFile });
});

test('a restarted router serves HTTPS before the agent is back', async () => {
  const served = (await httpsGet(host().httpsPort, 'tls.test', '/', pebble.rootPem, IP)).serial;
  await host().killAgent();
  await host().killRouter();
  await host().startRouter();
  const again = await waitFor('HTTPS after the router restart', async () => {
    const r = await httpsGet(host().httpsPort, 'tls.test', '/', pebble.rootPem, IP).catch(() => undefined);
    return r?.status === 200 ? r : undefined;
  });
  assert.equal(again.serial, served);
  assert.match(again.body, /v1/);
  await host().startAgent({ BERTH_ACME_DIRECTORY: pebble.directoryUrl, BERTH_ACME_CA_FILE: pebble.caFile });
});

function fetchHead(port: number, hostHeader: string, path: string): Promise<{ location: string | undefined }> {
  return import('node:http').then(
    (http) =>
      new Promise((resolve, reject) => {
        http
          .get({ host: IP, port, path, headers: { host: hostHeader }, agent: false }, (res) => {
            res.resume();
            resolve({ location: res.headers.location });
          })
          .on('error', reject);
      }),
  );
}

test('deploy remove takes the service certificates off the router, the files and the store', async () => {
  await host().trust(e.keyLine, 'admin');
  const removed = await e.app.run(['remove', '-y']);
  assert.equal(removed.code, 0, explain(removed, e));
  await waitFor('no certificate files left', () => readdirSync(join(host().stateDir, 'tls', 'certs')).length === 0);
  assert.ok((await handshake(host().httpsPort, 'tls.test', pebble.rootPem, IP)).error, 'tls.test is no longer served');
  assert.deepEqual(readdirSync(join(host().stateDir, 'router', 'tls')), []);
  assert.match((await e.app.run(['audit', '--json'])).stdout, /"action":"certificate\.removed"/);
});
