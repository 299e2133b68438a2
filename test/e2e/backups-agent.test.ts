// Backups through a real agent process (main.ts's wiring: the default backup
// root under the state dir, the API, the scheduler started): a release with an
// accessory and a backup of its dump; a manual run over the API stores a file
// under <state-dir>/backups/<service>/<backup>/ that the list shows as newest good.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestPayload } from '../../shared/manifest.js';
import { dockerOk } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, postResigned, signedRequest, storedPayload, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
let key: OperatorKey;
let aud: string;
let stored: ManifestPayload;

before(async () => {
  e = await setupApp('bakagent');
  await e.hosts[0]!.trust(e.keyLine, 'admin');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  stored = await storedPayload(e.hosts[0]!, key, aud, e.service, 'v1');
});
after(async () => e?.teardown());

const api = (method: string, path: string, body = '') => signedRequest(e.hosts[0]!, key, aud, method, `/v1/services/${e.service}${path}`, body);

test('a manual backup run through the agent stores its file under the default root', async () => {
  const backups = { db: { kind: 'accessory', accessory: 'cache', dump: ['sh', '-c', 'cat /www/data/x'], restore: ['sh', '-c', 'cat > /www/data/x'] } };
  const accessories = { cache: { image: stored.image, env: { clear: {}, secret: {} }, files: [], directories: [{ source: 'data', target: '/www/data' }] } };
  const posted = await postResigned(e.hosts[0]!, key, aud, stored, stored.seq + 1, { accessories, backups } as unknown as Partial<ManifestPayload>);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const id = posted.body.deploy.id as number;
  const done = await waitFor('the deploy to end', async () => {
    const d = await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/deploys/${id}`);
    return ['DONE', 'REVERTED', 'FAILED'].includes(d.body.deploy.state) ? d.body : undefined;
  }, 60_000);
  assert.equal(done.deploy.state, 'DONE', JSON.stringify(done.events.map((x: { message: string }) => x.message)));
  const listed = await api('GET', '/accessories?destination=');
  await dockerOk(e.hosts[0]!.engine.host, ['exec', listed.body.accessories[0].container, 'sh', '-c', 'echo precious > /www/data/x']);

  const ran = await api('POST', '/backups/db/run?destination=', '{}');
  assert.equal(ran.status, 200);
  const lines = String(ran.body).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { event: string; record: { id: number; outcome: string; reason: string } });
  assert.deepEqual(lines.map((l) => l.event), ['started', 'ended']);
  const record = lines[1]!.record;
  assert.equal(record.outcome, 'ok', record.reason);

  const dir = join(realpathSync(e.hosts[0]!.stateDir), 'backups', e.service, 'db');
  assert.equal(readdirSync(dir).filter((n) => n.startsWith(`db-${record.id}-`) && n.endsWith('.dump.zst')).length, 1);
  const list = await api('GET', '/backups?destination=');
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.backups[0].newest_good, record.id);
  assert.equal(list.body.records[0].id, record.id);
});
