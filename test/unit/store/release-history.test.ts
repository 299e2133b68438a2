import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { openStore, type DeployState, type Store } from '../../../agent/store/index.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { moveDeploy } from '../../support/deploy-states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-history-test-'));
const KID = STORE_KID;
const IMAGE = (c: string) => `reg/demo@sha256:${c.repeat(64)}`;
let n = 0;
let seq = 0;
let store: Store;

beforeEach(() => {
  store = openStore(join(dir, `h${n++}.db`));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function payload(version: string, image: string, over: Partial<ManifestPayload> = {}): ManifestPayload {
  return storedPayload({ seq: ++seq, version, image, roles: { web: { env: { clear: { V: version }, secret: {} } } }, ...over });
}

/** Accepts a release and ends its deploy in `state`; DONE makes it current. */
function release(version: string, image: string, state: DeployState, over: Partial<ManifestPayload> = {}): number {
  const p = payload(version, image, over);
  const d = store.acceptRelease({ payload: p, jws: `jws-${p.seq}`, keyId: KID });
  moveDeploy(store, d.id, state, state === 'REVERTED' ? 'never healthy' : undefined);
  if (state === 'DONE') store.setCurrent(p.service, p.destination, d.id);
  return d.id;
}

describe('store: release history', () => {
  it('lists one entry per version, newest first, with its latest deploy state and the current one marked', () => {
    release('v1', IMAGE('1'), 'DONE');
    release('v2', IMAGE('2'), 'DONE');
    release('v3', IMAGE('3'), 'REVERTED');
    release('v1', IMAGE('1'), 'DONE', { trigger: 'rollback' });
    const list = store.releaseHistory('demo', '');
    assert.deepEqual(
      list.map((r) => [r.version, r.last_state, r.trigger, r.current, r.error]),
      [['v1', 'DONE', 'rollback', true, null], ['v3', 'REVERTED', 'push', false, 'never healthy'], ['v2', 'DONE', 'push', false, null]],
    );
    assert.equal(list[0]!.seq, seq, 'the latest release row of v1');
    assert.equal(list[0]!.key_id, KID);
    assert.match(list[0]!.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(store.releaseHistory('demo', '', 2).map((r) => r.version), ['v1', 'v3']);
  });

  it('orders by when each version last went live: after a bake revert the release before the next one is the one reverted to', () => {
    const d1 = release('v1', IMAGE('1'), 'DONE');
    const d2 = release('v2', IMAGE('2'), 'DONE');
    const outcome = store.derived.bakeFailed({ bakedDeployId: d2, revertToDeployId: d1, reason: 'web: GET /up failed 3 times' });
    assert.equal(outcome.kind, 'reverting');
    if (outcome.kind !== 'reverting') return;
    moveDeploy(store, outcome.deploy.id, 'DONE');
    store.setCurrent('demo', '', outcome.deploy.id);
    // Right after the revert: v1 serves again and v2 is marked, so a plain rollback has nothing to go to.
    assert.deepEqual(store.releaseHistory('demo', '').map((r) => [r.version, r.current, r.bake_failed]), [['v1', true, false], ['v2', false, true]]);
    release('v3', IMAGE('3'), 'DONE');
    assert.deepEqual(store.releaseHistory('demo', '').map((r) => [r.version, r.current, r.bake_failed]), [['v3', true, false], ['v1', false, false], ['v2', false, true]]);
  });

  it('keeps services and destinations apart, and an unknown service has no history', () => {
    release('v1', IMAGE('1'), 'DONE');
    release('s1', IMAGE('5'), 'DONE', { destination: 'staging', sub: 'demo@staging' });
    assert.deepEqual(store.releaseHistory('demo', '').map((r) => r.version), ['v1']);
    assert.deepEqual(store.releaseHistory('demo', 'staging').map((r) => [r.version, r.current]), [['s1', true]]);
    assert.deepEqual(store.releaseHistory('nope', ''), []);
  });

  it('returns a version\'s stored payload, preferring the newest release of it that went live', () => {
    release('v1', IMAGE('1'), 'DONE');
    const firstSeq = seq;
    release('v2', IMAGE('2'), 'DONE');
    release('v1', IMAGE('1'), 'REVERTED');
    const stored = store.storedRelease('demo', '', 'v1');
    assert.ok(stored);
    assert.equal(stored.seq, firstSeq, 'the failed re-release of v1 is passed over');
    assert.deepEqual([stored.version, stored.image, stored.key_id], ['v1', IMAGE('1'), KID]);
    assert.deepEqual(stored.payload.roles, { web: { env: { clear: { V: 'v1' }, secret: {} } } });
    assert.equal(stored.payload.seq, firstSeq);
    release('v3', IMAGE('3'), 'REVERTED');
    assert.equal(store.storedRelease('demo', '', 'v3')?.version, 'v3', 'a version that never went live is still returned');
    assert.equal(store.storedRelease('demo', '', 'v9'), undefined);
    assert.equal(store.storedRelease('demo', 'staging', 'v1'), undefined);
  });

  it('reads without writing', () => {
    release('v1', IMAGE('1'), 'DONE');
    const before = store.dump();
    store.releaseHistory('demo', '');
    store.storedRelease('demo', '', 'v1');
    assert.deepEqual(store.dump(), before);
  });
});
