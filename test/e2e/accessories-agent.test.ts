// Accessories through a real agent process (its config, guardrails and
// agent-scoped Docker as main.ts wires them): a signed release with an
// accessory boots it during the deploy, with a kept directory under the
// agent's state dir that the default guardrails (binds only under /data,
// /srv; the state dir protected) still let the agent itself mount; the
// endpoints list it, reboot it with data kept, and remove it (admin) with purge.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestPayload } from '../../shared/manifest.js';
import { seal } from '../../shared/sealing.js';
import { dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, postResigned, rawRequest, signedRequest, storedPayload, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
let key: OperatorKey;
let aud: string;
let stored: ManifestPayload;

before(async () => {
  e = await setupApp('accagent');
  await e.hosts[0]!.trust(e.keyLine, 'admin');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  stored = await storedPayload(e.hosts[0]!, key, aud, e.service, 'v1');
});
after(async () => e?.teardown());

const api = (method: string, path: string, body = '') => signedRequest(e.hosts[0]!, key, aud, method, `/v1/services/${e.service}${path}`, body);

test('a release with an accessory boots it; the API lists, reboots (data kept) and purges it', async () => {
  const identity = await rawRequest(e.hosts[0]!, 'GET', '/v1/identity', '');
  const token = await seal('acc-t0ken', identity.body.sealing_jwk, { use: 'accessory-env', service: e.service, destination: '', accessory: 'cache', name: 'TOKEN' });
  const posted = await postResigned(e.hosts[0]!, key, aud, stored, stored.seq + 1, { accessories: { cache: { image: stored.image, env: { clear: {}, secret: { TOKEN: token } }, files: [], directories: [{ source: 'data', target: '/www/data' }] } } } as Partial<ManifestPayload>);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const id = posted.body.deploy.id as number;
  const done = await waitFor('the deploy to end', async () => {
    const d = await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/deploys/${id}`);
    return ['DONE', 'REVERTED', 'FAILED'].includes(d.body.deploy.state) ? d.body : undefined;
  }, 60_000);
  assert.equal(done.deploy.state, 'DONE', JSON.stringify(done.events.map((x: { message: string }) => x.message)));

  const listed = await api('GET', '/accessories?destination=');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  const [cache] = listed.body.accessories;
  const dir = join(realpathSync(e.hosts[0]!.stateDir), 'accessories', e.service, 'cache', 'dirs', 'data');
  assert.deepEqual([cache.state, cache.host, cache.changes, cache.directories], ['running', `${e.service}-cache`, [], [dir]]);
  const engine = e.hosts[0]!.engine.host;
  assert.equal((await dockerOk(engine, ['exec', cache.container, 'sh', '-c', 'echo "$TOKEN"; echo kept > /www/data/x'])).trim(), 'acc-t0ken');

  const rebooted = await api('POST', '/accessories/cache/reboot?destination=', '{}');
  assert.equal(rebooted.status, 200, JSON.stringify(rebooted.body));
  assert.equal((await dockerOk(engine, ['exec', cache.container, 'cat', '/www/data/x'])).trim(), 'kept');

  const removed = await api('DELETE', '/accessories/cache?destination=&purge=1');
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.deepEqual(removed.body.removed, { container: cache.container, purged: [dir] });
  assert.ok(!existsSync(dir));
});
