import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../../agent/store/migrations.js';
import { openStore, type DeployEvent, type DeployRecord, type Store } from '../../../agent/store/index.js';
import { ConflictError, isBerthError } from '../../../shared/errors.js';
import { DEPLOY_STATES, DEPLOY_TRANSITIONS, FINAL_DEPLOY_STATES, type DeployState } from '../../../shared/api-types.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { moveDeploy } from '../../support/deploy-states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-store-test-'));
let n = 0;
const KID = STORE_KID;

function fresh(now?: () => number): { store: Store; file: string } {
  const file = join(dir, `s${n++}.db`);
  return { store: openStore(file, now ? { now } : {}), file };
}

const payload = (over: Partial<ManifestPayload> = {}): ManifestPayload => storedPayload(over);

function conflictCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isBerthError(e), `expected a BerthError, got ${String(e)}`);
    return `${e.status} ${e.code}: ${e.message}`;
  }
  assert.fail('expected an error');
}

after(() => rmSync(dir, { recursive: true, force: true }));

describe('store: migrations and pragmas', () => {
  it('creates every table, and reopening keeps data without re-running migrations', () => {
    const { store, file } = fresh();
    const tables = Object.keys(store.dump()).sort();
    assert.deepEqual(tables, [
      'app_stopped', 'audit', 'backup_state', 'backups', 'certificates', 'cron_runs', 'cron_state', 'deploy_events', 'deploys', 'locks', 'maintenance', 'operator_locks', 'pauses', 'releases', 'route_version', 'routes',
      'schema_migrations', 'seen_jti', 'service_seq', 'trusted_keys', 'webhook_deliveries',
    ]);
    store.keys.add({ kid: KID, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, comment: 'c', scopes: ['deploy'] });
    store.close();
    const again = openStore(file);
    assert.equal(again.keys.list().length, 1);
    assert.equal(again.dump().schema_migrations?.length, MIGRATIONS.length);
    again.close();
  });

  it('migrations 3 and 4 mark the deploys whose bake already failed and rebuild releases, from a database at version 2', () => {
    const file = join(dir, `s${n++}.db`);
    const old = new Database(file);
    for (const m of MIGRATIONS.filter((x) => x.version <= 2)) {
      old.exec(m.sql);
    }
    old.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
      INSERT INTO schema_migrations VALUES (1, '2024-05-01T00:00:00Z'), (2, '2024-05-01T00:00:00Z');
      INSERT INTO releases (id, service, destination, version, seq, image, key_id, jws, payload, created_at)
        VALUES (1, 'demo', '', 'v1', 1, 'img', 'k', 'jws', '{}', '2024-05-01T00:00:00Z'),
               (2, 'demo', 'staging', 'v1', 1, 'img', 'k', 'jws', '{}', '2024-05-01T00:00:00Z');
      INSERT INTO deploys (id, release_id, service, destination, version, seq, image, state, key_id, created_at, updated_at)
        VALUES (1, 1, 'demo', '', 'v1', 1, 'img', 'DONE', 'k', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z'),
               (2, 2, 'demo', 'staging', 'v1', 1, 'img', 'DONE', 'k', '2024-05-01T00:00:00Z', '2024-05-01T00:00:00Z');
      INSERT INTO service_seq (service, destination, seq, current_deploy_id) VALUES ('demo', '', 1, 1), ('demo', 'staging', 1, 2);
      INSERT INTO audit (id, at, key_id, action, service, destination, detail)
        VALUES (7, '2024-05-01T00:00:00Z', 'agent', 'bake.failed', 'demo', '', '{"deploy":1,"version":"v1","reason":"x","reverted_to":null}');`);
    old.close();
    const store = openStore(file);
    assert.equal(store.dump().schema_migrations?.length, MIGRATIONS.length);
    assert.deepEqual(store.dump().releases?.map((r) => (r as { revision: number }).revision), [0, 0]);
    assert.equal(store.getRelease(2)?.jws, 'jws');
    assert.equal(store.derived.bakeOver(1), 'its bake already failed (audit 7)');
    assert.equal(store.derived.bakeOver(2), undefined);
    assert.deepEqual(store.releaseHistory('demo', '').map((r) => r.bake_failed), [true]);
    assert.deepEqual(store.releaseHistory('demo', 'staging').map((r) => r.bake_failed), [false]);
    store.close();
  });
});

describe('store: trusted keys', () => {
  it('adds, reports unchanged/updated, lists and removes', () => {
    const { store } = fresh();
    const k = { kid: KID, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, comment: 'me', scopes: ['deploy' as const] };
    assert.equal(store.keys.add(k), 'added');
    assert.equal(store.keys.add(k), 'unchanged');
    assert.equal(store.keys.add({ ...k, scopes: ['admin'] }), 'updated');
    assert.deepEqual(store.keys.get(KID)?.scopes, ['admin']);
    assert.equal(store.keys.remove(KID), true);
    assert.equal(store.keys.remove(KID), false);
    assert.equal(store.keys.list().length, 0);
    store.close();
  });

  it('refuses an unknown scope and changes nothing', () => {
    const { store } = fresh();
    const before = store.dump();
    assert.match(conflictCode(() => store.keys.add({ kid: KID, jwk: {}, comment: '', scopes: ['root' as never] })), /^400/);
    assert.deepEqual(store.dump(), before);
    store.close();
  });
});

describe('store: jti replay', () => {
  it('accepts a jti once, refuses it again, and still refuses it after a restart', () => {
    const { store, file } = fresh();
    const exp = Math.floor(Date.now() / 1000) + 30;
    store.useJti('jti-one-aaaaaaaaaaaa', exp);
    assert.match(conflictCode(() => store.useJti('jti-one-aaaaaaaaaaaa', exp)), /^409 replayed/);
    store.close();
    const again = openStore(file);
    assert.match(conflictCode(() => again.useJti('jti-one-aaaaaaaaaaaa', exp)), /^409 replayed/);
    again.useJti('jti-two-aaaaaaaaaaaa', exp);
    again.close();
  });

  it('prunes rows long after their exp, and only those', () => {
    let now = Date.now();
    const { store } = fresh(() => now);
    const s = Math.floor(now / 1000);
    store.useJti('old-jti-aaaaaaaaaaaa', s + 10);
    store.useJti('new-jti-aaaaaaaaaaaa', s + 3600);
    now += 3600 * 1000;
    store.useJti('third-jti-aaaaaaaaaa', s + 3700);
    const jtis = (store.dump().seen_jti as Array<{ jti: string }>).map((r) => r.jti).sort();
    assert.deepEqual(jtis, ['new-jti-aaaaaaaaaaaa', 'third-jti-aaaaaaaaaa']);
    store.close();
  });

  it('a manifest jti is refused as a request jti too (one table)', () => {
    const { store } = fresh();
    const p = payload();
    store.acceptRelease({ payload: p, jws: 'jws', keyId: KID });
    assert.match(conflictCode(() => store.useJti(p.jti, p.exp)), /^409 replayed/);
    store.close();
  });
});

describe('store: acceptRelease', () => {
  it('commits seq, jti, release, deploy, first event and lock together', () => {
    const { store } = fresh();
    const events: DeployEvent[] = [];
    store.bus.on('event', (e: DeployEvent) => events.push(e));
    const p = payload({ seq: 5 });
    const d = store.acceptRelease({ payload: p, jws: 'the-jws', keyId: KID, requestJti: { jti: 'request-jti-aaaaaaaaaa', exp: p.exp } });
    assert.equal(d.state, 'RECEIVED');
    assert.equal(d.seq, 5);
    assert.equal(store.seq('demo', ''), 5);
    assert.deepEqual(store.getRelease(d.id), { payload: p, jws: 'the-jws' });
    assert.equal(store.events(d.id).length, 1);
    assert.equal(events.length, 1);
    const dump = store.dump();
    assert.equal(dump.locks?.length, 1);
    assert.equal(dump.seen_jti?.length, 2);
    assert.deepEqual(store.unfinishedDeploys().map((x) => x.id), [d.id]);
    store.close();
  });

  it('refuses, changing nothing: seq not above, replayed jtis, held lock, version with another image', () => {
    const { store } = fresh();
    const first = store.acceptRelease({ payload: payload({ seq: 10, version: 'v1' }), jws: 'j', keyId: KID });
    const before = store.dump();
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['seq equal', () => store.acceptRelease({ payload: payload({ seq: 10 }), jws: 'j', keyId: KID }), /^409 seq_not_increasing: seq 10 is not above the last accepted seq 10 for demo/],
      ['seq lower', () => store.acceptRelease({ payload: payload({ seq: 3 }), jws: 'j', keyId: KID }), /^409 seq_not_increasing/],
      ['locked', () => store.acceptRelease({ payload: payload({ seq: 11, version: 'v2' }), jws: 'j', keyId: KID }), new RegExp(`^409 locked: demo is locked by deploy ${first.id} \\(version v1, key ${KID}\\) since `)],
    ];
    const replayed = payload({ seq: 12 });
    replayed.jti = (store.dump().seen_jti as Array<{ jti: string }>)[0]!.jti;
    cases.push(['manifest jti', () => store.acceptRelease({ payload: replayed, jws: 'j', keyId: KID }), /^409 replayed/]);
    for (const [name, fn, re] of cases) {
      assert.match(conflictCode(fn), re, name);
      assert.deepEqual(store.dump(), before, `${name}: store changed`);
    }
    // Free the lock; a version reused with another image is still refused.
    moveDeploy(store, first.id, 'DONE');
    const afterDone = store.dump();
    assert.match(
      conflictCode(() => store.acceptRelease({ payload: payload({ seq: 20, version: 'v1', image: `reg/demo@sha256:${'b'.repeat(64)}` }), jws: 'j', keyId: KID })),
      /^409 version_conflict/,
    );
    assert.deepEqual(store.dump(), afterDone);
    // Positive control: same version with the same image (a rollback) is fine.
    const again = store.acceptRelease({ payload: payload({ seq: 21, version: 'v1' }), jws: 'j', keyId: KID });
    assert.equal(again.state, 'RECEIVED');
    store.close();
  });

  it('a request jti already used refuses the release', () => {
    const { store } = fresh();
    const exp = Math.floor(Date.now() / 1000) + 30;
    store.useJti('used-request-jti-aaaa', exp);
    const before = store.dump();
    assert.match(
      conflictCode(() => store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID, requestJti: { jti: 'used-request-jti-aaaa', exp } })),
      /^409 replayed/,
    );
    assert.deepEqual(store.dump(), before);
    store.close();
  });

  it('destinations are separate services for seq and lock', () => {
    const { store } = fresh();
    store.acceptRelease({ payload: payload({ seq: 5 }), jws: 'j', keyId: KID });
    const staging = store.acceptRelease({ payload: payload({ seq: 1, destination: 'staging', sub: 'demo@staging' }), jws: 'j', keyId: KID });
    assert.equal(staging.destination, 'staging');
    assert.equal(store.seq('demo', 'staging'), 1);
    assert.equal(store.seq('demo', ''), 5);
    store.close();
  });
});

describe('store: deploy lifecycle', () => {
  it('events are ordered with increasing ids, final states free the lock and emit final', () => {
    const { store } = fresh();
    const d = store.acceptRelease({ payload: payload({ seq: 1 }), jws: 'j', keyId: KID });
    const finals: DeployRecord[] = [];
    store.bus.on('final', (r: DeployRecord) => finals.push(r));
    moveDeploy(store, d.id, 'PULLED');
    const e1 = store.addEvent(d.id, 'PULLED', 'pulling', 50);
    const e2 = store.addEvent(d.id, 'PULLED', 'pulled', 100);
    assert.ok(e2.id > e1.id);
    assert.deepEqual(store.events(d.id, e1.id).map((e) => e.message), ['pulled']);
    assert.equal(store.dump().locks?.length, 1);
    assert.equal(finals.length, 0);
    const failed = moveDeploy(store, d.id, 'FAILED', 'image not found');
    assert.equal(failed.error, 'image not found');
    assert.equal(store.dump().locks?.length, 1, 'FAILED still holds the lock until REVERTED');
    const reverted = moveDeploy(store, d.id, 'REVERTED');
    assert.equal(reverted.error, 'image not found', 'error survives later state changes');
    assert.equal(store.dump().locks?.length, 0);
    assert.deepEqual(finals.map((f) => f.state), ['REVERTED']);
    assert.deepEqual(store.unfinishedDeploys(), []);
    store.close();
  });

  it('current is what setCurrent names; services lists seq and current', () => {
    const { store } = fresh();
    assert.equal(store.current('demo', ''), null);
    assert.equal(store.seq('demo', ''), 0);
    const d = store.acceptRelease({ payload: payload({ seq: 7, version: 'v7' }), jws: 'j', keyId: KID });
    store.setCurrent('demo', '', d.id);
    moveDeploy(store, d.id, 'DONE');
    assert.deepEqual(store.current('demo', ''), { version: 'v7', image: d.image, seq: 7, deploy_id: d.id });
    assert.deepEqual(store.services(), [{ name: 'demo', destination: '', seq: 7, current: { version: 'v7', image: d.image, seq: 7, deploy_id: d.id } }]);
    assert.match(conflictCode(() => store.setCurrent('other', '', d.id)), /^404/);
    store.close();
  });

  it('refuses unknown deploys and states', () => {
    const { store } = fresh();
    assert.match(conflictCode(() => store.addEvent(99, 'PULLED', 'x')), /^404/);
    assert.match(conflictCode(() => store.setState(99, 'DONE')), /^404/);
    const d = store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID });
    assert.match(conflictCode(() => store.setState(d.id, 'BOGUS' as never)), /^400/);
    assert.equal(store.getDeploy(d.id)?.state, 'RECEIVED');
    store.close();
  });
});

describe('store: deploy transitions', () => {
  it('refuses a move the transition table does not allow, naming both states, and changes nothing', () => {
    const { store } = fresh();
    const d = store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID });
    const auditBefore = store.audit.list({ limit: 1000 }).length;
    for (const [from, to] of [['RECEIVED', 'DONE'], ['RECEIVED', 'DRAINED'], ['RECEIVED', 'HEALTHY']] as const) {
      assert.equal(store.getDeploy(d.id)?.state, from);
      assert.throws(() => store.setState(d.id, to), (e: unknown) =>
        e instanceof ConflictError && e.code === 'illegal_transition' && e.message === `deploy ${d.id} cannot go from ${from} to ${to}`);
    }
    assert.equal(store.getDeploy(d.id)?.state, 'RECEIVED');
    assert.equal(store.audit.list({ limit: 1000 }).length, auditBefore, 'no audit row for a refused move');
    moveDeploy(store, d.id, 'SWITCHED');
    assert.throws(() => store.setState(d.id, 'FAILED'), /cannot go from SWITCHED to FAILED/, 'past the switch a deploy cannot fail back');
    moveDeploy(store, d.id, 'DONE');
    for (const to of ['VERIFIED', 'REVERTED', 'FAILED'] as const) assert.throws(() => store.setState(d.id, to), /cannot go from DONE to/);
    store.setState(d.id, 'DONE');
    store.close();
  });

  it('the table: every state reaches a final one, finals are DONE and REVERTED, DONE only through SWITCHED', () => {
    assert.deepEqual([...FINAL_DEPLOY_STATES], ['DONE', 'REVERTED']);
    for (const s of DEPLOY_STATES) {
      const seen = new Set<DeployState>([s]);
      const queue: DeployState[] = [s];
      while (queue.length) for (const n of DEPLOY_TRANSITIONS[queue.shift()!]) if (!seen.has(n)) (seen.add(n), queue.push(n));
      assert.ok([...seen].some((x) => FINAL_DEPLOY_STATES.includes(x)), `${s} reaches a final state`);
    }
    const intoDone = DEPLOY_STATES.filter((s) => DEPLOY_TRANSITIONS[s].includes('DONE'));
    assert.deepEqual(intoDone, ['SWITCHED', 'DRAINED']);
    assert.deepEqual(DEPLOY_STATES.filter((s) => DEPLOY_TRANSITIONS[s].includes('FAILED')), ['RECEIVED', 'VERIFIED', 'PULLED', 'STARTED', 'HEALTHY']);
  });
});

describe('store: routes', () => {
  it('set/remove bump the version; raiseVersion never lowers it', () => {
    const { store, file } = fresh();
    assert.equal(store.routes.version(), 0);
    const r = { service: 'demo', hosts: ['demo.test'], target: '10.0.0.2:80' };
    assert.equal(store.routes.set('demo', '', r), 1);
    assert.equal(store.routes.set('api', '', { ...r, service: 'api' }), 2);
    assert.deepEqual(store.routes.all().map((x) => x.service), ['api', 'demo']);
    assert.equal(store.routes.set('api', '', null), 3);
    assert.deepEqual(store.routes.all(), [r]);
    assert.equal(store.routes.raiseVersion(10), 10);
    assert.equal(store.routes.raiseVersion(4), 10);
    store.close();
    const again = openStore(file);
    assert.equal(again.routes.version(), 10);
    again.close();
  });
});

