// Roles stopped by `deploy app stop` (agent/store/app-state-repo.ts): rows and
// audit in one go, the router entries left out, refusals while a deploy or a
// lock holds the service, a bake window ended by a stop, and a deploy's switch
// ending the stop (put back when the switch fails).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore, type DeployRecord, type Store } from '../../../agent/store/index.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { moveDeploy } from '../../support/deploy-states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-app-state-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function payload(version: string, seq: number, over: Partial<ManifestPayload> = {}): ManifestPayload {
  return storedPayload({ seq, version, image: `reg/demo@sha256:${String(seq).repeat(64).slice(0, 64)}`, ...over });
}

function live(store: Store, p: ManifestPayload): DeployRecord {
  const d = store.acceptRelease({ payload: p, jws: `jws-${p.version}`, keyId: STORE_KID });
  store.setCurrent(p.service, p.destination, d.id);
  return moveDeploy(store, d.id, 'DONE');
}

function fresh(): { store: Store; v1: DeployRecord } {
  const store = openStore(join(dir, `s${n++}.db`));
  return { store, v1: live(store, payload('v1', 1, { bake: 60 })) };
}

const stopInput = (v1: DeployRecord) => ({
  service: 'demo', destination: '', keyId: STORE_KID, deployId: v1.id, version: 'v1',
  roles: [{ role: 'web', route: 'demo' }, { role: 'jobs', route: null }],
});

describe('store: app stop and start', () => {
  it('stop writes a row per role and app.stop; hides the proxied routes; a repeat keeps since; ends a bake window', () => {
    const { store, v1 } = fresh();
    assert.equal(store.derived.bakeOver(v1.id), undefined);
    const rows = store.appState.stop(stopInput(v1));
    assert.deepEqual(rows.map((r) => [r.role, r.route, r.deploy_id]), [['jobs', null, v1.id], ['web', 'demo', v1.id]]);
    assert.deepEqual(store.appState.hiddenRoutes(), ['demo']);
    assert.equal(store.derived.bakeOver(v1.id), 'the app was stopped (deploy app stop)');
    const again = store.appState.stop(stopInput(v1));
    assert.deepEqual(again.map((r) => r.since), rows.map((r) => r.since));
    const audit = store.audit.list({ service: 'demo', limit: 5 }).filter((e) => e.action === 'app.stop');
    assert.equal(audit.length, 2);
    assert.deepEqual(audit[0]?.detail, { version: 'v1', roles: ['web', 'jobs'], already_stopped: ['web', 'jobs'] });
    store.close();
  });

  it('start ends the named roles only and records app.start; nothing stopped records nothing', () => {
    const { store, v1 } = fresh();
    store.appState.stop(stopInput(v1));
    const ended = store.appState.start({ service: 'demo', destination: '', keyId: STORE_KID, deployId: v1.id, version: 'v1', roles: ['web'] });
    assert.deepEqual(ended.map((r) => r.role), ['web']);
    assert.deepEqual(store.appState.get('demo', '').map((r) => r.role), ['jobs']);
    assert.deepEqual(store.appState.hiddenRoutes(), []);
    assert.equal(store.audit.list({ service: 'demo', limit: 1 })[0]?.action, 'app.start');
    const count = store.audit.list({ limit: 50 }).length;
    assert.deepEqual(store.appState.start({ service: 'demo', destination: '', keyId: STORE_KID, deployId: v1.id, version: 'v1', roles: ['web'] }), []);
    assert.equal(store.audit.list({ limit: 50 }).length, count);
    store.close();
  });

  it('refused while a deploy holds the service, or when another release went live, with nothing written', () => {
    const { store, v1 } = fresh();
    const next = store.acceptRelease({ payload: payload('v2', 2), jws: 'jws-v2', keyId: STORE_KID });
    const before = store.dump();
    assert.throws(() => store.appState.stop(stopInput(v1)), /is being deployed: deploy \d+/);
    assert.deepEqual(store.dump(), before);
    moveDeploy(store, next.id, 'DONE');
    store.setCurrent('demo', '', next.id);
    assert.throws(() => store.appState.stop(stopInput(v1)), /another release went live meanwhile/);
    assert.deepEqual(store.appState.get('demo', ''), []);
    store.close();
  });

  it("a deploy's switch takes the rows, puts them back when it fails, and audits app.start by the deploy once live", () => {
    const { store, v1 } = fresh();
    store.appState.stop(stopInput(v1));
    const taken = store.appState.takeForSwitch('demo', '');
    assert.equal(taken.length, 2);
    assert.deepEqual(store.appState.hiddenRoutes(), []);
    store.appState.restore('demo', '', taken);
    assert.deepEqual(store.appState.get('demo', ''), taken);
    const again = store.appState.takeForSwitch('demo', '');
    store.appState.resumedBy('demo', '', { id: 9, version: 'v2', keyId: STORE_KID }, again);
    assert.deepEqual(store.audit.list({ service: 'demo', limit: 1 })[0]?.detail, { version: 'v2', roles: ['jobs', 'web'], by_deploy: 9 });
    store.close();
  });
});
