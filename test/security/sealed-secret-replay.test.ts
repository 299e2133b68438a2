// A sealed secret opens only for the service, destination, role and env name
// it was sealed for. A deploy key can read any service's stored release (a
// rollback re-signs it), so without that binding it could copy another
// service's sealed value into a release of its own whose cmd is `env` and
// read the secret back through the logs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containersByLabel } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, postResigned, storedPayload, type OperatorKey } from '../support/signed-client.js';
import { openStore } from '../../agent/store/index.js';
import type { ManifestPayload } from '../../shared/manifest.js';

const SECRET = 'db-pa55w0rd-of-service-a';
let e: E2eApp;
let key: OperatorKey;
let aud: string;
let stored: ManifestPayload;
let seq = 0;

before(async () => {
  e = await setupApp('sealed');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal/secrets'), `DB_PASSWORD=${SECRET}\n`);
  e.configure('v1', 'env:\n  secret:\n    - DB_PASSWORD\n');
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  // What any deploy key can fetch: the stored payload a rollback re-signs.
  stored = await storedPayload(e.hosts[0]!, key, aud, 'sealed', 'v1');
  assert.match(stored.roles.web?.env.secret.DB_PASSWORD ?? '', /^ey/, 'the release carries the sealed secret');
});

after(async () => e?.teardown());

/** A's stored payload, re-signed by the deploy key as a new release with `over` applied. */
function replay(over: Partial<ManifestPayload>): Promise<{ status: number; body: any }> {
  seq = Math.max(Date.now(), seq + 1);
  return postResigned(e.hosts[0]!, key, aud, stored, seq, over);
}

/** The database (less the request-token jti log) and the containers of both services (the engine is shared with other tests). */
async function observe(): Promise<string> {
  const store = openStore(`${e.hosts[0]!.stateDir}/berth.db`);
  try {
    const { seen_jti: _jtis, ...rest } = store.dump();
    const engine = e.hosts[0]!.engine.host;
    const listed = [...(await containersByLabel(engine, 'berth.service=sealed')), ...(await containersByLabel(engine, 'berth.service=sealed-b'))];
    const containers = listed.map((c) => `${c.name} ${c.state}`).sort();
    return JSON.stringify({ rest, containers });
  } finally {
    store.close();
  }
}

async function refusedAsMismatch(over: Partial<ManifestPayload>, sealedFor: RegExp): Promise<void> {
  const before = await observe();
  const r = await replay(over);
  assert.equal(r.status, 400, `expected a refusal, got ${r.status} ${JSON.stringify(r.body)}`);
  assert.equal(r.body.error.code, 'seal_mismatch');
  assert.match(r.body.error.message, sealedFor);
  assert.ok(!JSON.stringify(r.body).includes(SECRET), 'the error does not reveal the value');
  assert.equal(await observe(), before, 'nothing changed: no release row, no deploy, no seq, no container');
}

const sealedForA = /was sealed for env DB_PASSWORD of role web of service sealed \(destination ""\)/;

test("a deploy key cannot replay another service's sealed secret into a service of its own", async () => {
  const web = stored.roles.web!;
  await refusedAsMismatch(
    { service: 'sealed-b', sub: 'sealed-b', roles: { web: { cmd: ['env'], env: { clear: {}, secret: { DB_PASSWORD: web.env.secret.DB_PASSWORD! } } } } },
    sealedForA,
  );
  assert.deepEqual(await containersByLabel(e.hosts[0]!.engine.host, 'berth.service=sealed-b'), [], 'no container for service B');
});

test('a sealed secret does not open under another env name, role or destination of the same service', async () => {
  const jwe = stored.roles.web!.env.secret.DB_PASSWORD!;
  const web = stored.roles.web!;
  await refusedAsMismatch({ roles: { web: { ...web, env: { clear: {}, secret: { LEAKED: jwe } } } } }, sealedForA);
  await refusedAsMismatch({ roles: { web, worker: { cmd: ['env'], env: { clear: {}, secret: { DB_PASSWORD: jwe } } } } }, sealedForA);
  await refusedAsMismatch({ destination: 'staging', sub: 'sealed@staging', roles: { web: { cmd: ['env'], env: { clear: {}, secret: { DB_PASSWORD: jwe } } } } }, sealedForA);
});

test('a role secret does not open as the cron notify URL or its signing key, where the agent would send it or sign with it', async () => {
  const jwe = stored.roles.web!.env.secret.DB_PASSWORD!;
  const cron: ManifestPayload['cron'] = {
    report: { schedule: '@daily', timezone: 'UTC', command: ['true'], role: 'web', timeout: 60, concurrency: 'forbid', retries: 0, retry_backoff: 10, hosts: 'one' },
  };
  await refusedAsMismatch({ cron, notify: { url: jwe, timeout: 5 } }, sealedForA);
  await refusedAsMismatch({ cron, notify: { url: jwe, secret: jwe, timeout: 5 } }, sealedForA);
});

test('rollback, which re-signs the stored payload with its sealed secret, still works', async () => {
  e.configure('v2', 'env:\n  secret:\n    - DB_PASSWORD\n');
  const r2 = await e.push('v2');
  assert.equal(r2.code, 0, explain(r2, e));
  const rb = await e.app.run(['rollback']);
  assert.equal(rb.code, 0, explain(rb, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader, '/cgi-bin/env?DB_PASSWORD')).body, `${SECRET}\n`);
});
