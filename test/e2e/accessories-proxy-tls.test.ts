// A routed accessory with `proxy: ssl: true` against pebble: `deploy push`
// gets a certificate for its host from the agent's ACME server, the router
// serves the accessory over HTTPS by SNI, and plain HTTP redirects.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { explain, setupApp, type E2eApp } from '../support/e2e-app.js';
import { freePort, startPebble, type Pebble } from '../support/pebble.js';

const run = promisify(execFile);
const IP = '127.0.0.2';
const HOST = 'acc-tls.test';
let pebble: Pebble;
let e: E2eApp;
let rootFile: string;

before(async () => {
  const httpPort = await freePort();
  pebble = await startPebble({ httpPort, ip: IP });
  e = await setupApp('acctls', {
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

test('an ssl accessory gets a certificate at push; HTTPS serves it by SNI and HTTP redirects', async () => {
  const h = e.hosts[0]!;
  e.configure('v2', `accessories:
  admin:
    image: ${e.image('v1')}
    host: ${h.server.split(':')[0]}
    proxy:
      host: ${HOST}
      ssl: true
`);
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `${HOST}:${h.httpsPort}:${IP}`, `https://${HOST}:${h.httpsPort}/`]);
  assert.equal(stdout, 'v1\n');
  assert.equal((await h.get(HOST)).status, 301);
  assert.equal((await h.get(e.hostHeader)).status, 200, 'the app, without ssl, stays on plain HTTP');
});
