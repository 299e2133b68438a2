// Renewal against pebble with 20-second certificates: the agent renews once a
// third of the lifetime remains while requests keep succeeding and a kept-alive
// connection keeps its socket; a failed renewal backs off, the old certificate
// keeps serving, and the next attempt after the cause is gone succeeds.
import assert from 'node:assert/strict';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { deployYml } from '../support/deploy-cli.js';
import { explain, setupApp, type E2eApp } from '../support/e2e-app.js';
import { freePort, startPebble, type Pebble } from '../support/pebble.js';
import { handshake, httpsGet } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

const IP = '127.0.0.2';
const NAME = 'renew.test';
let pebble: Pebble;
let e: E2eApp;

before(async () => {
  const httpPort = await freePort();
  pebble = await startPebble({ httpPort, ip: IP, validitySeconds: 20 });
  e = await setupApp('renew', {
    httpPorts: [httpPort],
    agentEnv: { BERTH_ACME_DIRECTORY: pebble.directoryUrl, BERTH_ACME_CA_FILE: pebble.caFile },
  });
  const yml = deployYml({ service: e.service, image: e.image('v1'), servers: e.hosts.map((h) => h.server), host: NAME });
  e.app.writeConfig(yml.replace(`  host: ${NAME}\n`, `  host: ${NAME}\n  ssl: true\n`));
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
});
after(async () => {
  await e?.teardown();
  await pebble?.stop();
});

const port = () => e.hosts[0]!.httpsPort;
const served = async () => (await handshake(port(), NAME, pebble.rootPem, IP, false)).serial;

async function auditActions(): Promise<string> {
  return (await e.app.run(['audit', '--json', '-n', '1000'])).stdout;
}

test('a certificate is renewed before it expires while requests keep succeeding', async () => {
  const first = await served();
  assert.ok(first);
  const keep = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise<{ body: string; socket: TLSSocket }>((resolve, reject) => {
      https
        .get({ host: IP, port: port(), path: '/', servername: NAME, headers: { host: NAME }, ca: pebble.rootPem, agent: keep }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ body, socket: res.socket as TLSSocket }));
        })
        .on('error', reject);
    });
  const kept = await get();
  let failures = 0;
  let requests = 0;
  const renewed = await waitFor(
    'a new serial on a new connection',
    async () => {
      requests++;
      const r = await httpsGet(port(), NAME, '/', pebble.rootPem, IP).catch(() => undefined);
      if (r?.status !== 200) failures++;
      return r && r.serial !== first ? r.serial : undefined;
    },
    40_000,
    { intervalMs: 250, explain: () => e.hosts[0]!.agentLog() },
  );
  assert.notEqual(renewed, first);
  assert.equal(failures, 0, `${failures} of ${requests} requests failed during the renewal`);
  const again = await get();
  assert.equal(again.socket, kept.socket, 'the kept-alive connection goes on on the same socket');
  assert.match(again.body, /v1/);
  keep.destroy();
  assert.match(await auditActions(), /"action":"certificate\.renewed"/);
});

test('a failed renewal backs off, keeps the old certificate serving, and succeeds once the cause is gone', async () => {
  await pebble.dns.pointAt(NAME, '127.0.0.9');
  const before = await served();
  await waitFor('a failed renewal', async () => /"action":"certificate\.failed"[^\n]*"renewal":true/.test(await auditActions()), 40_000, { intervalMs: 500 });
  assert.equal(await served(), before, 'the old certificate still serves');
  await pebble.dns.clear(NAME);
  const next = await waitFor('a renewal after the failure', async () => {
    const s = await served();
    return s && s !== before ? s : undefined;
  }, 40_000, { intervalMs: 250, explain: () => e.hosts[0]!.agentLog() });
  assert.ok(next);
});
