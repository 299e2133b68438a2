// The error pages a route names reach the router from the stored releases of
// the route's service, whoever built the route: an agent that restarted and
// then ran `deploy app start` has remembered nothing, and the router must
// still get the page before the table naming it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pushErrorPages, storedErrorPages } from '../../../agent/engine/error-pages.js';
import type { RouterPort } from '../../../agent/engine/types.js';
import { openStore } from '../../../agent/store/index.js';
import { errorPageHash } from '../../../shared/error-pages.js';
import type { Route } from '../../../shared/routes.js';
import { STORE_KID, storedPayload } from '../../support/manifest-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-error-pages-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PAGE = '<h1>We are down for a moment</h1>';
const OTHER = '<h1>staging only</h1>';

function fakeRouter(present: string[]): RouterPort & { put: Array<[string, string]> } {
  const put: Array<[string, string]> = [];
  return {
    put,
    listErrorPages: async () => present,
    putErrorPage: async (hash: string, html: string) => {
      put.push([hash, html]);
    },
  } as unknown as RouterPort & { put: Array<[string, string]> };
}

const route = (service: string, pages: Record<string, string>): Route => ({ service, hosts: ['shop.example.com'], target: '10.0.0.2:80', error_pages: pages }) as Route;

describe('error pages pushed from the stored releases', () => {
  it('a fresh process finds each page in the release of the route\'s own service and destination, and sends only what the router lacks', async () => {
    const store = openStore(join(dir, 'a.db'));
    store.acceptRelease({ payload: storedPayload({ error_pages: { '502': PAGE } }), jws: 'jws-1', keyId: STORE_KID });
    store.acceptRelease({ payload: storedPayload({ destination: 'staging', sub: 'demo@staging', seq: 2, error_pages: { '503': OTHER } }), jws: 'jws-2', keyId: STORE_KID });
    const pages = storedErrorPages(store);
    const router = fakeRouter([]);
    await pushErrorPages(router, [route('demo', { '502': errorPageHash(PAGE) }), route('demo@staging', { '503': errorPageHash(OTHER) })], pages);
    assert.deepEqual(router.put, [[errorPageHash(PAGE), PAGE], [errorPageHash(OTHER), OTHER]]);
    // A page of another destination is not taken for this one.
    assert.equal(pages(route('demo', {}), errorPageHash(OTHER)), undefined);
    const has = fakeRouter([errorPageHash(PAGE)]);
    await pushErrorPages(has, [route('demo', { '502': errorPageHash(PAGE) })], pages);
    assert.deepEqual(has.put, []);
    store.close();
  });

  it('a table without pages asks the router nothing; a page no release has is left for the router to refuse by name', async () => {
    const store = openStore(join(dir, 'b.db'));
    const asked: string[] = [];
    const router = { listErrorPages: async () => (asked.push('list'), []), putErrorPage: async () => void asked.push('put') } as unknown as RouterPort;
    await pushErrorPages(router, [route('demo', {})], storedErrorPages(store));
    assert.deepEqual(asked, []);
    await pushErrorPages(router, [route('demo', { '502': errorPageHash(PAGE) })], storedErrorPages(store));
    assert.deepEqual(asked, ['list']);
    store.close();
  });
});
