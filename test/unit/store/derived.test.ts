// Agent-made releases (agent/store/derived-repo.ts): what a failed bake window
// records, and that it records nothing once the service has moved on.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../../agent/store/db.js';
import { openStore, type DeployRecord, type Store } from '../../../agent/store/index.js';
import { AGENT_ACTOR } from '../../../shared/api-types.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { moveDeploy } from '../../support/deploy-states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-derived-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const KID = STORE_KID;
const REASON = 'web: health check GET /up on port 80 failed 3 times in a row (last: HTTP 500)';

function payload(version: string, seq: number, over: Partial<ManifestPayload> = {}): ManifestPayload {
  return storedPayload({ seq, version, image: `reg/demo@sha256:${String(seq).repeat(64).slice(0, 64)}`, ...over });
}

/** Accepts and "runs" a release to DONE, making it current, as the engine does. */
function live(store: Store, p: ManifestPayload): DeployRecord {
  const d = store.acceptRelease({ payload: p, jws: `jws-${p.version}`, keyId: KID });
  store.setCurrent(p.service, p.destination, d.id);
  return moveDeploy(store, d.id, 'DONE');
}

function twoReleases(): { store: Store; v1: DeployRecord; v2: DeployRecord } {
  const store = openStore(join(dir, `s${n++}.db`));
  const v1 = live(store, payload('v1', 1));
  const v2 = live(store, payload('v2', 2, { bake: 15 }));
  return { store, v1, v2 };
}

const bakeAudit = (store: Store) => store.audit.list({ service: 'demo', limit: 50 }).filter((e) => e.action === 'bake.failed');

describe('store: bake-window reverts (derived releases)', () => {
  it('the release live before is the last earlier DONE deploy; failed ones are skipped', () => {
    const { store, v1, v2 } = twoReleases();
    assert.equal(store.derived.previousLive(v2.id)?.id, v1.id);
    assert.equal(store.derived.previousLive(v1.id), undefined);
    const bad = store.acceptRelease({ payload: payload('v3', 3), jws: 'j', keyId: KID });
    moveDeploy(store, bad.id, 'REVERTED', 'never healthy');
    const v4 = live(store, payload('v4', 4, { bake: 5 }));
    assert.equal(store.derived.previousLive(v4.id)?.id, v2.id);
    store.close();
  });

  it('records a bake-revert deploy on the previous release row, takes the lock and audits bake.failed in one go', () => {
    const { store, v1, v2 } = twoReleases();
    const releasesBefore = store.dump().releases;
    const seqBefore = store.seq('demo', '');
    assert.equal(store.derived.bakeOver(v2.id), undefined);

    const out = store.derived.bakeFailed({ bakedDeployId: v2.id, revertToDeployId: v1.id, reason: REASON });
    assert.equal(out.kind, 'reverting');
    assert.ok(out.kind === 'reverting');
    const r = out.deploy;
    assert.deepEqual(
      { version: r.version, image: r.image, seq: r.seq, state: r.state, key_id: r.key_id, trigger: r.trigger, derived_from: r.derived_from },
      { version: 'v1', image: v1.image, seq: v1.seq, state: 'RECEIVED', key_id: AGENT_ACTOR, trigger: 'bake-revert', derived_from: v2.id },
    );
    // The stored signed manifest of v1 is what the engine runs; no new release row, no new seq.
    assert.deepEqual(store.dump().releases, releasesBefore);
    assert.equal(store.getRelease(r.id)?.jws, 'jws-v1');
    assert.equal(store.seq('demo', ''), seqBefore);
    const rows = store.dump().deploys as Array<{ id: number; release_id: number }>;
    assert.equal(rows.find((d) => d.id === r.id)?.release_id, rows.find((d) => d.id === v1.id)?.release_id);
    // The lock: a push now is refused naming the revert deploy.
    assert.throws(
      () => store.acceptRelease({ payload: payload('v5', 5), jws: 'j', keyId: KID }),
      new RegExp(`demo is locked by deploy ${r.id} \\(version v1, key ${AGENT_ACTOR}\\)`),
    );
    assert.match(store.events(r.id)[0]?.message ?? '', new RegExp(`bake window of deploy ${v2.id} \\(v2\\) failed: .*HTTP 500.*; switching back to v1`));
    const [audit] = bakeAudit(store);
    assert.equal(audit?.key_id, AGENT_ACTOR);
    assert.deepEqual(audit?.detail, { deploy: v2.id, version: 'v2', reason: REASON, reverted_to: 'v1', revert_deploy: r.id });
    // The bake is over for good: a second failure report changes nothing.
    assert.match(store.derived.bakeOver(v2.id) ?? '', /holds the deploy lock/);
    const dump = store.dump();
    assert.equal(store.derived.bakeFailed({ bakedDeployId: v2.id, revertToDeployId: v1.id, reason: REASON }).kind, 'over');
    assert.deepEqual(store.dump(), dump);
    // Finishing the revert frees the lock, attributed to the agent.
    store.setCurrent('demo', '', r.id);
    moveDeploy(store, r.id, 'DONE');
    assert.equal(store.current('demo', '')?.version, 'v1');
    assert.ok(store.audit.list({ service: 'demo', limit: 50 }).some((e) => e.action === 'deploy.DONE' && e.key_id === AGENT_ACTOR));
    store.close();
  });

  it('ignores an operator lock (a revert is a safety action)', () => {
    const file = join(dir, `s${n++}.db`);
    const store = openStore(file);
    const v1 = live(store, payload('v1', 1));
    const v2 = live(store, payload('v2', 2, { bake: 15 }));
    // Written as `deploy lock acquire` does: a row in operator_locks.
    const db = openDatabase(file);
    db.run('INSERT INTO operator_locks (service, destination, key_id, message, since) VALUES (?, ?, ?, ?, ?)', 'demo', '', KID, 'db migration', new Date().toISOString());
    db.close();
    assert.equal(store.dump().operator_locks?.length, 1);
    assert.equal(store.derived.bakeOver(v2.id), undefined);
    const out = store.derived.bakeFailed({ bakedDeployId: v2.id, revertToDeployId: v1.id, reason: REASON });
    assert.equal(out.kind, 'reverting');
    store.close();
  });

  it('refuses, recording nothing, when another deploy is current or holds the lock', () => {
    const { store, v1, v2 } = twoReleases();
    const running = store.acceptRelease({ payload: payload('v3', 3), jws: 'j', keyId: KID });
    assert.match(store.derived.bakeOver(v2.id) ?? '', new RegExp(`deploy ${running.id} holds the deploy lock`));
    let before = store.dump();
    const held = store.derived.bakeFailed({ bakedDeployId: v2.id, revertToDeployId: v1.id, reason: REASON });
    assert.deepEqual(held, { kind: 'over', why: `deploy ${running.id} holds the deploy lock` });
    assert.deepEqual(store.dump(), before);

    store.setCurrent('demo', '', running.id);
    moveDeploy(store, running.id, 'DONE');
    before = store.dump();
    const moved = store.derived.bakeFailed({ bakedDeployId: v2.id, revertToDeployId: v1.id, reason: REASON });
    assert.deepEqual(moved, { kind: 'over', why: `deploy ${running.id} is current now` });
    assert.deepEqual(store.dump(), before);
    assert.equal(store.derived.bakeFailed({ bakedDeployId: 9999, revertToDeployId: v1.id, reason: REASON }).kind, 'over');
    assert.deepEqual(store.dump(), before);
    store.close();
  });

  it('with nothing to go back to: only bake.failed, no deploy, no lock; and only once', () => {
    const store = openStore(join(dir, `s${n++}.db`));
    const only = live(store, payload('v1', 1, { bake: 10 }));
    const deploysBefore = store.dump().deploys;
    const out = store.derived.bakeFailed({ bakedDeployId: only.id, revertToDeployId: null, reason: REASON });
    assert.deepEqual(out, { kind: 'nothing-to-revert', why: 'nothing to revert to: no release was live before it' });
    assert.deepEqual(bakeAudit(store).map((e) => e.detail), [
      { deploy: only.id, version: 'v1', reason: REASON, reverted_to: null, note: 'nothing to revert to: no release was live before it' },
    ]);
    // No new deploy: only the baked one is marked with its bake.failed audit row (migration 3).
    const failedAudit = bakeAudit(store)[0]?.id;
    assert.deepEqual(store.dump().deploys, (deploysBefore as Array<{ id: number }>).map((d) => (d.id === only.id ? { ...d, bake_failed: failedAudit } : d)));
    assert.deepEqual(store.dump().locks, []);
    // An agent restart must not report the same failure again.
    assert.match(store.derived.bakeOver(only.id) ?? '', /its bake already failed/);
    assert.equal(store.derived.bakeFailed({ bakedDeployId: only.id, revertToDeployId: null, reason: REASON }).kind, 'over');
    assert.equal(bakeAudit(store).length, 1);
    store.close();
  });

  it('will not "revert" to the same version, a later deploy or another service', () => {
    const store = openStore(join(dir, `s${n++}.db`));
    const a = live(store, payload('v1', 1));
    const again = live(store, payload('v1', 2, { bake: 10, image: a.image }));
    const out = store.derived.bakeFailed({ bakedDeployId: again.id, revertToDeployId: a.id, reason: REASON });
    assert.deepEqual(out, { kind: 'nothing-to-revert', why: 'nothing to revert to: the release live before it was v1 too' });
    assert.deepEqual(store.dump().locks, []);

    const other = openStore(join(dir, `s${n++}.db`));
    const x = live(other, payload('v1', 1));
    const y = live(other, payload('v2', 2, { bake: 10 }));
    const z = live(other, payload('v1', 3, { service: 'shop', sub: 'shop' }));
    const cross = other.derived.bakeFailed({ bakedDeployId: y.id, revertToDeployId: z.id, reason: REASON });
    assert.equal(cross.kind, 'nothing-to-revert');
    assert.match(cross.kind === 'nothing-to-revert' ? cross.why : '', new RegExp(`deploy ${z.id} is not an earlier deploy of demo`));
    assert.ok(x);
    store.close();
    other.close();
  });
});
