// The audit rows the store writes with each action, operator locks, and the
// store side of removing a service.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openStore, type AuditEntry, type Store } from '../../../agent/store/index.js';
import { DEPLOY_STATES } from '../../../shared/api-types.js';
import { isBerthError } from '../../../shared/errors.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';
import { moveDeploy } from '../../support/deploy-states.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-audit-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const KID = STORE_KID;
const OTHER = 'o'.repeat(43);
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

function fresh(): { store: Store; tick(ms?: number): void } {
  let now = T0;
  const store = openStore(join(dir, `a${n++}.db`), { now: () => now });
  return { store, tick: (ms = 1000) => void (now += ms) };
}

function payload(over: Partial<ManifestPayload> = {}): ManifestPayload {
  return storedPayload({ roles: { web: { env: { clear: {}, secret: {} }, proxy: { hosts: ['demo.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } } } }, ...over });
}

function trustBoth(store: Store): void {
  store.keys.add({ kid: KID, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, comment: 'alice@laptop', scopes: ['deploy'] });
  store.keys.add({ kid: OTHER, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'y' }, comment: 'bob@laptop', scopes: ['deploy'] });
}

function failure(fn: () => unknown): { status: number; code: string; message: string; hint: string | undefined } {
  try {
    fn();
  } catch (e) {
    assert.ok(isBerthError(e), `expected a BerthError, got ${String(e)}`);
    return { status: e.status, code: e.code, message: e.message, hint: e.hint };
  }
  assert.fail('expected an error');
}

const strip = (e: AuditEntry) => ({ key_id: e.key_id, action: e.action, service: e.service, destination: e.destination, detail: e.detail });

describe('audit rows written with each action', () => {
  it('an accepted release: key, service, destination and what was accepted', () => {
    const { store } = fresh();
    const d = store.acceptRelease({ payload: payload({ seq: 7, version: 'v7', destination: 'staging', sub: 'demo@staging' }), jws: 'j', keyId: KID });
    const [row, ...rest] = store.audit.list({ limit: 10 });
    assert.equal(rest.length, 0);
    assert.deepEqual(strip(row!), {
      key_id: KID, action: 'release.accepted', service: 'demo', destination: 'staging',
      detail: { deploy: d.id, version: 'v7', seq: 7, image: `reg/demo@sha256:${'a'.repeat(64)}`, trigger: 'push' },
    });
    assert.equal(row!.at, new Date(T0).toISOString());
    store.close();
  });

  it('every deploy state change, with the key that signed the release; a repeated state adds nothing', () => {
    const { store } = fresh();
    const d = store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID });
    const path = ['VERIFIED', 'PULLED', 'STARTED', 'HEALTHY', 'SWITCHED', 'DRAINED', 'DONE'] as const;
    for (const s of path) moveDeploy(store, d.id, s);
    moveDeploy(store, d.id, 'DONE');
    const failed = store.acceptRelease({ payload: payload({ seq: 2, version: 'v2' }), jws: 'j', keyId: OTHER });
    moveDeploy(store, failed.id, 'FAILED', 'health check failed');
    moveDeploy(store, failed.id, 'REVERTED', 'health check failed');

    const rows = store.audit.list({ limit: 100 }).reverse();
    assert.deepEqual(rows.map((r) => `${r.key_id === KID ? 'K' : 'O'} ${r.action}`), [
      'K release.accepted', ...path.map((s) => `K deploy.${s}`), 'O release.accepted', 'O deploy.FAILED', 'O deploy.REVERTED',
    ]);
    assert.deepEqual(rows.at(-1)!.detail, { deploy: failed.id, version: 'v2', trigger: 'push', error: 'health check failed' });
    // Every state of the machine has its action name.
    const seen = new Set(rows.map((r) => r.action));
    for (const s of DEPLOY_STATES.filter((x) => x !== 'RECEIVED')) assert.ok(seen.has(`deploy.${s}`), s);
    store.close();
  });

  it('trust changes made on the server are recorded as local; unchanged and unknown keys add nothing', () => {
    const { store } = fresh();
    const k = { kid: KID, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'x' }, comment: 'alice@laptop', scopes: ['deploy' as const] };
    store.keys.add(k);
    store.keys.add(k);
    store.keys.add({ ...k, scopes: ['read'] });
    store.keys.remove(KID);
    store.keys.remove(KID);
    assert.deepEqual(store.audit.list({ limit: 10 }).reverse().map(strip), [
      { key_id: 'local', action: 'trust.added', service: '', destination: '', detail: { kid: KID, comment: 'alice@laptop', scopes: ['deploy'] } },
      { key_id: 'local', action: 'trust.updated', service: '', destination: '', detail: { kid: KID, comment: 'alice@laptop', scopes: ['read'] } },
      { key_id: 'local', action: 'trust.removed', service: '', destination: '', detail: { kid: KID, comment: 'alice@laptop' } },
    ]);
    store.close();
  });

  it('a refused release writes no audit row (nor anything else)', () => {
    const { store } = fresh();
    trustBoth(store);
    const first = store.acceptRelease({ payload: payload({ seq: 10 }), jws: 'j', keyId: KID });
    const before = store.dump();
    const refusals: Array<[string, () => unknown]> = [
      ['seq', () => store.acceptRelease({ payload: payload({ seq: 9, version: 'v9' }), jws: 'j', keyId: KID })],
      ['deploy lock', () => store.acceptRelease({ payload: payload({ seq: 11, version: 'v11' }), jws: 'j', keyId: KID })],
    ];
    for (const [name, fn] of refusals) {
      assert.equal(failure(fn).status, 409, name);
      assert.deepEqual(store.dump(), before, name);
    }
    moveDeploy(store, first.id, 'DONE');
    store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: OTHER, message: 'freeze' });
    const locked = store.dump();
    assert.equal(failure(() => store.acceptRelease({ payload: payload({ seq: 12, version: 'v12' }), jws: 'j', keyId: KID })).code, 'locked');
    assert.deepEqual(store.dump(), locked);
    store.close();
  });
});

describe('audit list: filters, limit, paging', () => {
  function seeded() {
    const f = fresh();
    for (const [service, destination, action] of [
      ['demo', '', 'a1'], ['demo', 'staging', 'a2'], ['other', '', 'a3'], ['demo', '', 'a4'], ['', '', 'a5'], ['demo', '', 'a6'],
    ] as const) {
      f.store.audit.record({ keyId: KID, action, service, destination });
      f.tick();
    }
    return f.store;
  }

  it('newest first; a service filter matches that service and destination exactly', () => {
    const store = seeded();
    assert.deepEqual(store.audit.list({ limit: 100 }).map((e) => e.action), ['a6', 'a5', 'a4', 'a3', 'a2', 'a1']);
    assert.deepEqual(store.audit.list({ service: 'demo', limit: 100 }).map((e) => e.action), ['a6', 'a4', 'a1']);
    assert.deepEqual(store.audit.list({ service: 'demo', destination: 'staging', limit: 100 }).map((e) => e.action), ['a2']);
    assert.deepEqual(store.audit.list({ service: 'nobody', limit: 100 }), []);
    store.close();
  });

  it('limit is clamped to 1..1000; before pages backwards by id', () => {
    const store = seeded();
    assert.deepEqual(store.audit.list({ limit: 2 }).map((e) => e.action), ['a6', 'a5']);
    assert.equal(store.audit.list({ limit: 0 }).length, 1);
    assert.equal(store.audit.list({ limit: 1e9 }).length, 6);
    const page1 = store.audit.list({ service: 'demo', limit: 2 });
    const page2 = store.audit.list({ service: 'demo', limit: 2, beforeId: page1.at(-1)!.id });
    assert.deepEqual([...page1, ...page2].map((e) => e.action), ['a6', 'a4', 'a1']);
    assert.deepEqual(store.audit.list({ limit: 10, beforeId: 1 }), []);
    store.close();
  });

  it('bounds free-text detail so one caller cannot grow rows without limit', () => {
    const { store } = fresh();
    const e = store.audit.record({ keyId: KID, action: 'lock.acquired', detail: { message: 'x'.repeat(10_000) } });
    assert.ok(JSON.stringify(e.detail).length < 4100);
    store.close();
  });
});

describe('operator locks', () => {
  it('acquire: the lock names its holder key and comment; audited in the same step', () => {
    const { store } = fresh();
    trustBoth(store);
    const lock = store.operatorLocks.acquire({ service: 'never-deployed', destination: '', keyId: KID, message: '  db migration  ' });
    assert.deepEqual(lock, { service: 'never-deployed', destination: '', key_id: KID, key_comment: 'alice@laptop', message: 'db migration', since: new Date(T0).toISOString() });
    assert.deepEqual(store.operatorLocks.get('never-deployed', ''), lock);
    assert.equal(store.operatorLocks.get('never-deployed', 'staging'), null, 'destinations are separate');
    assert.deepEqual(strip(store.audit.list({ limit: 1 })[0]!), {
      key_id: KID, action: 'lock.acquired', service: 'never-deployed', destination: '', detail: { message: 'db migration' },
    });
    store.close();
  });

  it('a second acquire (by anyone) is 409 locked naming holder, since and message, and changes nothing', () => {
    const { store, tick } = fresh();
    trustBoth(store);
    store.operatorLocks.acquire({ service: 'demo', destination: 'staging', keyId: KID, message: 'db migration' });
    tick();
    const before = store.dump();
    for (const keyId of [OTHER, KID]) {
      const err = failure(() => store.operatorLocks.acquire({ service: 'demo', destination: 'staging', keyId, message: 'mine' }));
      assert.equal(err.status, 409);
      assert.equal(err.code, 'locked');
      assert.equal(err.message, `demo@staging is locked by key ${KID} (alice@laptop) since ${new Date(T0).toISOString()}: db migration`);
      assert.deepEqual(store.dump(), before);
    }
    store.close();
  });

  it('refuses empty, oversized and unprintable messages, storing nothing', () => {
    const { store } = fresh();
    const before = store.dump();
    for (const message of ['', '   ', 'x'.repeat(501), 'a\x1b[2Jb', 'line\nbreak', 'rtl\u202Eoverride', 'nul\0', 12 as unknown as string]) {
      const err = failure(() => store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: KID, message }));
      assert.equal(err.status, 400, JSON.stringify(message));
    }
    assert.deepEqual(store.dump(), before);
    // Positive control: 500 characters, including non-ASCII, is fine.
    assert.equal(store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: KID, message: 'é'.repeat(500) }).message.length, 500);
    store.close();
  });

  it('release: anyone with the scope may release; audited with the previous holder; 404 when none', () => {
    const { store } = fresh();
    trustBoth(store);
    const lock = store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: KID, message: 'freeze' });
    assert.deepEqual(store.operatorLocks.release({ service: 'demo', destination: '', keyId: OTHER }), lock);
    assert.equal(store.operatorLocks.get('demo', ''), null);
    assert.deepEqual(strip(store.audit.list({ limit: 1 })[0]!), {
      key_id: OTHER, action: 'lock.released', service: 'demo', destination: '', detail: { holder: KID, since: lock.since, message: 'freeze' },
    });
    const before = store.dump();
    const err = failure(() => store.operatorLocks.release({ service: 'demo', destination: '', keyId: OTHER }));
    assert.deepEqual([err.status, err.code, err.message], [404, 'not_found', 'demo is not locked on this server']);
    assert.deepEqual(store.dump(), before);
    store.close();
  });

  it('a deploy while locked is refused with the contract message and hint; release lets it through', () => {
    const { store } = fresh();
    trustBoth(store);
    store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: OTHER, message: 'release freeze until Monday' });
    const before = store.dump();
    const err = failure(() => store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID, requestJti: { jti: 'request-jti-aaaaaaaaaa', exp: Math.floor(Date.now() / 1000) + 30 } }));
    assert.equal(err.status, 409);
    assert.equal(err.code, 'locked');
    assert.equal(err.message, `demo is locked by key ${OTHER} (bob@laptop) since ${new Date(T0).toISOString()}: release freeze until Monday`);
    assert.equal(err.hint, 'deploy lock release, or push with --lock-wait SECONDS');
    assert.deepEqual(store.dump(), before, 'nothing stored, not even the request jti');
    // Another destination is not locked.
    assert.equal(store.acceptRelease({ payload: payload({ destination: 'staging', sub: 'demo@staging' }), jws: 'j', keyId: KID }).state, 'RECEIVED');
    store.operatorLocks.release({ service: 'demo', destination: '', keyId: KID });
    assert.equal(store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID }).state, 'RECEIVED');
    store.close();
  });

  it('a lock whose key was removed says so instead of a comment', () => {
    const { store } = fresh();
    trustBoth(store);
    store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: OTHER, message: 'freeze' });
    store.keys.remove(OTHER);
    const lock = store.operatorLocks.get('demo', '');
    assert.equal(lock?.key_comment, undefined);
    assert.match(failure(() => store.acceptRelease({ payload: payload(), jws: 'j', keyId: KID })).message, new RegExp(`by key ${OTHER} \\(a key no longer trusted here\\)`));
    store.close();
  });
});

describe('removal (store side)', () => {
  function deployed() {
    const f = fresh();
    trustBoth(f.store);
    const d = f.store.acceptRelease({ payload: payload({ seq: 5 }), jws: 'j', keyId: KID });
    f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.0.0.2:80' });
    f.store.routes.set('demo.api', '', { service: 'demo.api', hosts: ['api.demo.test'], target: '10.0.0.3:80' });
    f.store.routes.set('demo', 'staging', { service: 'demo@staging', hosts: ['staging.demo.test'], target: '10.0.0.4:80' });
    f.store.routes.set('demo-two', '', { service: 'demo-two', hosts: ['two.test'], target: '10.0.0.5:80' });
    return { ...f, d };
  }

  it('begin is refused while a deploy runs or an operator lock is held, changing nothing', () => {
    const { store, d } = deployed();
    const before = store.dump();
    const running = failure(() => store.removal.begin({ service: 'demo', destination: '', keyId: KID }));
    assert.equal(running.code, 'locked');
    assert.match(running.message, new RegExp(`^demo is being deployed: deploy ${d.id} \\(version v1, key ${KID}\\)`));
    assert.deepEqual(store.dump(), before);
    moveDeploy(store, d.id, 'DONE');
    store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: OTHER, message: 'hands off' });
    const locked = store.dump();
    const held = failure(() => store.removal.begin({ service: 'demo', destination: '', keyId: KID }));
    assert.equal(held.code, 'locked');
    assert.match(held.message, /locked by key .* \(bob@laptop\) since .*: hands off$/);
    assert.deepEqual(store.dump(), locked);
    store.close();
  });

  it('holds the service against deploys until finished; finish keeps seq and history, clears current and maintenance, audits', () => {
    const { store, d } = deployed();
    moveDeploy(store, d.id, 'DONE');
    store.setCurrent('demo', '', d.id);
    const versionBefore = store.routes.version();
    assert.deepEqual(store.removal.begin({ service: 'demo', destination: '', keyId: KID }), { previousCurrent: d.id });
    assert.equal(store.current('demo', ''), null, 'a bake window on the current release ends now');
    assert.equal(store.derived.bakeOver(d.id), 'deploy none is current now');
    assert.equal(failure(() => store.acceptRelease({ payload: payload({ seq: 6, version: 'v6' }), jws: 'j', keyId: OTHER })).code, 'locked');

    const dropped = store.removal.dropRoutes('demo', '');
    assert.deepEqual(dropped.map((r) => r.service).sort(), ['demo', 'demo.api']);
    assert.deepEqual(store.routes.all().map((r) => r.service).sort(), ['demo-two', 'demo@staging'], 'other services and destinations keep theirs');
    assert.ok(store.routes.version() > versionBefore);
    store.removal.restoreRoutes(dropped);
    assert.equal(store.routes.all().length, 4);
    store.removal.dropRoutes('demo', '');

    store.removal.finish({ service: 'demo', destination: '', keyId: KID, containers: ['demo-web-v1'], routes: 2 });
    assert.equal(store.current('demo', ''), null);
    assert.equal(store.seq('demo', ''), 5);
    assert.equal(store.operatorLocks.get('demo', ''), null);
    assert.ok(store.getDeploy(d.id), 'history stays');
    assert.deepEqual(strip(store.audit.list({ limit: 1 })[0]!), {
      key_id: KID, action: 'service.removed', service: 'demo', destination: '', detail: { containers: ['demo-web-v1'], routes: 2 },
    });
    // Old manifests stay refused; a new one is accepted.
    assert.equal(failure(() => store.acceptRelease({ payload: payload({ seq: 5, version: 'v5b' }), jws: 'j', keyId: KID })).code, 'seq_not_increasing');
    assert.equal(store.acceptRelease({ payload: payload({ seq: 6, version: 'v6' }), jws: 'j', keyId: KID }).state, 'RECEIVED');
    store.close();
  });

  it('abort frees the service with its current release back, and leaves a real operator lock alone', () => {
    const { store, d } = deployed();
    moveDeploy(store, d.id, 'DONE');
    store.setCurrent('demo', '', d.id);
    const before = store.dump();
    const held = store.removal.begin({ service: 'demo', destination: '', keyId: KID });
    store.removal.abort({ service: 'demo', destination: '', keyId: KID, ...held });
    assert.deepEqual(store.dump(), before);
    store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: KID, message: 'real lock' });
    store.removal.abort({ service: 'demo', destination: '', keyId: KID, previousCurrent: null });
    assert.equal(store.operatorLocks.get('demo', '')?.message, 'real lock');
    assert.equal(store.current('demo', '')?.deploy_id, d.id);
    store.close();
  });
});

describe('the removal hold', () => {
  function held() {
    const file = join(dir, `a${n++}.db`);
    let now = T0;
    const store = openStore(file, { now: () => now });
    trustBoth(store);
    const d = store.acceptRelease({ payload: payload({ seq: 5 }), jws: 'j', keyId: KID });
    moveDeploy(store, d.id, 'DONE');
    store.setCurrent('demo', '', d.id);
    const previous = store.removal.begin({ service: 'demo', destination: '', keyId: KID });
    return { store, d, previous, file, tick: () => void (now += 1000) };
  }

  it('an abort after the removal started removing audits service.remove_failed with what was removed', () => {
    const { store, previous } = held();
    store.removal.abort({
      service: 'demo', destination: '', keyId: KID, ...previous,
      failed: { containers: ['demo-web-v1'], error: 'demo: could not remove demo-web-v2 (no such container)' },
    });
    assert.deepEqual(strip(store.audit.list({ limit: 1 })[0]!), {
      key_id: KID, action: 'service.remove_failed', service: 'demo', destination: '',
      detail: { containers: ['demo-web-v1'], error: 'demo: could not remove demo-web-v2 (no such container)' },
    });
    assert.equal(store.operatorLocks.get('demo', ''), null, 'the hold is lifted');
    store.close();
  });

  it('deploy lock release cannot lift it, and a push is told a removal is in progress; nothing changes', () => {
    const { store } = held();
    const before = store.dump();
    const release = failure(() => store.operatorLocks.release({ service: 'demo', destination: '', keyId: OTHER }));
    assert.equal(release.status, 409);
    assert.match(release.message, new RegExp(`^demo is being removed by key ${KID} \\(alice@laptop\\) since 2026-11-22T10:00:00.000Z$`));
    assert.match(release.hint ?? '', /run deploy remove again/);
    const push = failure(() => store.acceptRelease({ payload: payload({ seq: 6, version: 'v6' }), jws: 'j', keyId: OTHER }));
    assert.equal(push.code, 'locked');
    assert.match(push.message, /^demo is being removed by key/);
    assert.equal(push.hint, 'a removal (deploy remove) is in progress; push again once it has finished');
    const acquire = failure(() => store.operatorLocks.acquire({ service: 'demo', destination: '', keyId: OTHER, message: 'mine' }));
    assert.match(acquire.message, /is being removed by key/);
    assert.deepEqual(store.dump(), before);
    store.close();
  });

  it('no operator lock can pose as one: acquire refuses its message, storing nothing', () => {
    const { store } = fresh();
    trustBoth(store);
    const before = store.dump();
    const err = failure(() => store.operatorLocks.acquire({ service: 'x', destination: '', keyId: KID, message: ' removing the service (deploy remove) ' }));
    assert.deepEqual([err.status, err.message], [400, 'that lock message is reserved for deploy remove']);
    assert.deepEqual(store.dump(), before);
    store.close();
  });

  it('a second removal meanwhile is refused; after a restart, the next removal takes the stale hold over and finishes', () => {
    const { store, file, tick } = held();
    const before = store.dump();
    const second = failure(() => store.removal.begin({ service: 'demo', destination: '', keyId: OTHER }));
    assert.deepEqual([second.status, second.code], [409, 'locked']);
    assert.match(second.message, /^demo is being removed by key/);
    assert.deepEqual(store.dump(), before);

    // The agent stops mid-removal: the hold stays in the database.
    store.close();
    tick();
    const restarted = openStore(file, { now: () => T0 + 5000 });
    assert.match(failure(() => restarted.operatorLocks.release({ service: 'demo', destination: '', keyId: OTHER })).message, /is being removed/);
    assert.deepEqual(restarted.removal.begin({ service: 'demo', destination: '', keyId: OTHER }), { previousCurrent: null });
    const hold = restarted.operatorLocks.get('demo', '');
    assert.deepEqual([hold?.key_id, hold?.since], [OTHER, '2026-11-22T10:00:05.000Z']);
    restarted.removal.finish({ service: 'demo', destination: '', keyId: OTHER, containers: [], routes: 0 });
    assert.equal(restarted.operatorLocks.get('demo', ''), null);
    assert.equal(restarted.audit.list({ limit: 1 })[0]?.action, 'service.removed');
    restarted.close();
  });
});
