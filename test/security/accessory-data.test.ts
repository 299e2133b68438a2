// The agent keeps accessories' data under its own state dir, which the
// guardrails otherwise protect: only the agent may mount what it built there.
// A deploy key cannot reach that data (another accessory's database files)
// or the rest of the state dir (keys, database) through an accessory's
// absolute directory, a volume, or a role's volume; each is refused when the
// release arrives, and nothing is stored or started.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../../agent/store/index.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { containersByLabel } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { agentId, loadKey, postResigned, storedPayload, type OperatorKey } from '../support/signed-client.js';

let e: E2eApp;
let key: OperatorKey;
let aud: string;
let stored: ManifestPayload;
let seq = 0;
let stateDir = '';

before(async () => {
  e = await setupApp('accdata');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  stored = await storedPayload(e.hosts[0]!, key, aud, e.service, 'v1');
  stateDir = realpathSync(e.hosts[0]!.stateDir);
});
after(async () => e?.teardown());

async function observe(): Promise<string> {
  const store = openStore(join(e.hosts[0]!.stateDir, 'berth.db'));
  try {
    const { seen_jti: _j, audit: _a, ...rest } = store.dump();
    const containers = (await containersByLabel(e.hosts[0]!.engine.host, `berth.service=${e.service}`)).map((c) => c.name).sort();
    return JSON.stringify({ rest, containers });
  } finally {
    store.close();
  }
}

async function refused(over: Partial<ManifestPayload>, message: RegExp): Promise<void> {
  const before = await observe();
  seq = Math.max(Date.now(), seq + 1);
  const r = await postResigned(e.hosts[0]!, key, aud, stored, seq, over);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'guardrail_refused', JSON.stringify(r.body));
  assert.match(r.body.error.message, message);
  assert.equal(await observe(), before, 'nothing stored, nothing started');
}

const accessory = (over: Record<string, unknown>) => ({ cache: { image: stored.image, env: { clear: {}, secret: {} }, files: [], directories: [], ...over } });

test("an accessory's absolute directory or volume cannot mount the agent's accessory data or its state dir", async () => {
  const otherData = join(stateDir, 'accessories', 'victim', 'db', 'dirs', 'data');
  await refused({ accessories: accessory({ directories: [{ source: otherData, target: '/steal' }] }) } as Partial<ManifestPayload>, /accessory cache:/);
  await refused({ accessories: accessory({ volumes: [`${otherData}:/steal`] }) } as Partial<ManifestPayload>, /accessory cache:/);
  await refused({ accessories: accessory({ directories: [{ source: stateDir, target: '/state' }] }) } as Partial<ManifestPayload>, /accessory cache:/);
  await refused({ accessories: accessory({ volumes: [`${join(stateDir, 'accessories')}:/all`] }) } as Partial<ManifestPayload>, /accessory cache:/);
});

test("a role's volume cannot mount an accessory's kept data", async () => {
  const web = stored.roles.web!;
  const data = join(stateDir, 'accessories', e.service, 'cache', 'dirs', 'data');
  await refused({ roles: { web: { ...web, volumes: [`${data}:/steal`] } } }, /role web:/);
});
