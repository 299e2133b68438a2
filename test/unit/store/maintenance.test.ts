// The maintenance table and how the route publisher merges it into what the
// router gets: audit rows in the same transaction, a deploy during maintenance
// keeps it, a router that refuses leaves the store as it was.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createMaintenanceSwitch } from '../../../agent/engine/maintenance.js';
import { createRoutePublisher } from '../../../agent/engine/route-publisher.js';
import type { Logger } from '../../../agent/log.js';
import { openStore, type Route, type Store } from '../../../agent/store/index.js';
import { MemoryRouter } from '../../support/memory-router.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-maint-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
let clock = Date.parse('2026-01-01T00:00:00Z');
const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

function fresh(): Store {
  return openStore(join(dir, `db-${n++}.sqlite`), { now: () => clock });
}

const ROUTE = { service: 'demo', hosts: ['demo.test'], target: '10.0.0.1:80', health_path: '/health' };

describe('store: maintenance', () => {
  it('set records maintenance.on, the same message again changes nothing, a new one keeps since', () => {
    const store = fresh();
    assert.equal(store.maintenance.get('demo', ''), null);
    const first = store.maintenance.set({ service: 'demo', destination: '', keyId: 'k1', message: 'Back at 5' });
    assert.equal(first.changed, true);
    assert.deepEqual(first.state, { service: 'demo', destination: '', key_id: 'k1', message: 'Back at 5', since: '2026-01-01T00:00:00.000Z' });
    assert.deepEqual(store.maintenance.get('demo', ''), first.state);

    clock += 60_000;
    const before = store.dump();
    assert.equal(store.maintenance.set({ service: 'demo', destination: '', keyId: 'k2', message: 'Back at 5' }).changed, false);
    assert.deepEqual(store.dump(), before, 'a repeat is not recorded');

    const changed = store.maintenance.set({ service: 'demo', destination: '', keyId: 'k2', message: 'Back at 6' });
    assert.deepEqual(changed.state, { service: 'demo', destination: '', key_id: 'k2', message: 'Back at 6', since: '2026-01-01T00:00:00.000Z' });
    const audit = store.audit.list({ service: 'demo', destination: '', limit: 10 });
    assert.deepEqual(
      audit.map((a) => [a.action, a.key_id, a.detail]),
      [
        ['maintenance.on', 'k2', { message: 'Back at 6', previous_message: 'Back at 5' }],
        ['maintenance.on', 'k1', { message: 'Back at 5' }],
      ],
    );
    store.close();
  });

  it('clear records maintenance.off; clearing when off records nothing; destinations are separate', () => {
    const store = fresh();
    store.maintenance.set({ service: 'demo', destination: '', keyId: 'k1', message: 'a' });
    store.maintenance.set({ service: 'demo', destination: 'staging', keyId: 'k1', message: 'b' });
    assert.deepEqual(store.maintenance.all().map((m) => [m.destination, m.message]), [['', 'a'], ['staging', 'b']]);
    const cleared = store.maintenance.clear({ service: 'demo', destination: 'staging', keyId: 'k2' });
    assert.equal(cleared?.message, 'b');
    assert.equal(store.maintenance.get('demo', 'staging'), null);
    assert.equal(store.maintenance.get('demo', '')?.message, 'a');
    const [off] = store.audit.list({ service: 'demo', destination: 'staging', limit: 1 });
    assert.equal(off?.action, 'maintenance.off');
    assert.equal(off?.key_id, 'k2');
    assert.deepEqual(off?.detail, { since: cleared?.since, message: 'b' });

    const before = store.dump();
    assert.equal(store.maintenance.clear({ service: 'demo', destination: 'staging', keyId: 'k2' }), null);
    assert.deepEqual(store.dump(), before);
    store.close();
  });
});

/** Read through a function: deepEqual narrows `router.live` to what it was compared with. */
function firstLive(router: MemoryRouter): Route {
  const [route] = router.live.routes;
  assert.ok(route, 'the router serves a route');
  return route;
}

describe('route publisher: maintenance', () => {
  const setup = () => {
    const store = fresh();
    const router = new MemoryRouter();
    const publisher = createRoutePublisher(store, router, quiet);
    return { store, router, publisher, setMaintenance: createMaintenanceSwitch(store, publisher) };
  };

  it('on: the router serves the flag before the store records it; off removes it', async () => {
    const { store, router, publisher, setMaintenance } = setup();
    store.routes.set('demo', '', ROUTE);
    store.routes.set('other', '', { service: 'other', hosts: ['other.test'], target: '10.0.0.9:80' });
    await publisher.publish();

    const state = await setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: 'Back at 5' });
    assert.equal(state?.message, 'Back at 5');
    assert.deepEqual(router.live.routes, [
      { ...ROUTE, maintenance: { message: 'Back at 5' } },
      { service: 'other', hosts: ['other.test'], target: '10.0.0.9:80', health_path: '/up' },
    ]);
    assert.equal(store.routes.version(), router.live.version, 'the store is at the version the router serves');
    assert.equal(await publisher.sync(), true);
    const accepted = router.accepted;
    await publisher.sync();
    assert.equal(router.accepted, accepted, 'in sync: nothing resent');

    assert.equal(await setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: null }), null);
    assert.equal(firstLive(router).maintenance, undefined);
    assert.equal(store.maintenance.get('demo', ''), null);
    store.close();
  });

  it('a deploy that rewrites the route during maintenance keeps it', async () => {
    const { store, router, publisher, setMaintenance } = setup();
    store.routes.set('demo', '', ROUTE);
    await setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: 'Back at 5' });
    // What the engine does at SWITCHED: rewrite the route row, publish.
    store.routes.set('demo', '', { ...ROUTE, target: '10.0.0.2:80' });
    await publisher.publish();
    assert.deepEqual(router.live.routes, [{ ...ROUTE, target: '10.0.0.2:80', maintenance: { message: 'Back at 5' } }]);
    store.close();
  });

  it('a router that is down: the change fails with 502 and nothing is recorded; sync later converges', async () => {
    const { store, router, publisher, setMaintenance } = setup();
    store.routes.set('demo', '', ROUTE);
    await publisher.publish();
    const before = store.dump();
    router.down = true;
    await assert.rejects(
      setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: 'Back at 5' }),
      (e: Error & { status?: number }) => e.status === 502 && /router did not accept/.test(e.message),
    );
    assert.deepEqual(store.dump(), before, 'no maintenance row, no audit row, same route version');
    router.down = false;
    assert.equal(router.live.routes[0]?.maintenance, undefined);
    store.close();
  });

  it('a router that applied the change but whose answer was lost is put back by sync', async () => {
    const { store, router, publisher, setMaintenance } = setup();
    store.routes.set('demo', '', ROUTE);
    await publisher.publish();
    // Applies, then fails the answer: what a timeout after the router swapped looks like.
    const put = router.putRoutes.bind(router);
    router.putRoutes = async (set) => {
      await put(set);
      throw new Error('socket hang up');
    };
    await assert.rejects(setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: 'x' }));
    assert.deepEqual(router.live.routes[0]?.maintenance, { message: 'x' });
    router.putRoutes = put;
    assert.equal(await publisher.sync(), true);
    assert.equal(router.live.routes[0]?.maintenance, undefined, 'the router serves what the store says');
    store.close();
  });

  it('the router ahead of the store (restored database): the change still goes through above its version', async () => {
    const { store, router, setMaintenance } = setup();
    store.routes.set('demo', '', ROUTE);
    router.live = { version: 50, routes: [] };
    await setMaintenance({ service: 'demo', destination: '', keyId: 'k1', message: 'x' });
    assert.ok(router.live.version > 50);
    assert.equal(store.routes.version(), router.live.version);
    assert.deepEqual(router.live.routes[0]?.maintenance, { message: 'x' });
    store.close();
  });
});
