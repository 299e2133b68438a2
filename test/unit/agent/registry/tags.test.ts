// The agent's tag listing against a local stand-in registry: pages linked by
// `Link: <…>; rel="next"`, the bounds, a Bearer challenge, and the refusals typed.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { listTags } from '../../../../agent/registry/tags.js';
import { RegistryError } from '../../../../shared/errors.js';

const ALL = Array.from({ length: 25 }, (_, i) => `1.4.${i}`);

describe('agent tag listing: pages, bounds, login, refusals', () => {
  let server: http.Server;
  let host: string;
  const seen: Array<{ url: string; auth: string | undefined }> = [];
  before(async () => {
    server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      seen.push({ url: `${req.method} ${url.pathname}${url.search}`, auth: req.headers.authorization });
      const repo = url.pathname.replace(/^\/v2\//, '').replace(/\/tags\/list$/, '');
      if (url.pathname === '/token') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token: `t:${url.searchParams.get('scope')}` }));
      }
      const json = (body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (repo === 'team/paged' || repo === 'team/private') {
        if (repo === 'team/private' && req.headers.authorization !== 'Bearer t:repository:team/private:pull') {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${host}/token",service="stand-in",scope="repository:team/private:pull,push"` });
          return res.end();
        }
        // Distribution's paging: `n` per page, `last` the tag the page starts after.
        const n = Number(url.searchParams.get('n') ?? 100);
        const last = url.searchParams.get('last');
        const start = last === null ? 0 : ALL.indexOf(last) + 1;
        const page = ALL.slice(start, start + n);
        const more = start + n < ALL.length;
        return json({ name: repo, tags: page }, more ? { link: `</v2/${repo}/tags/list?n=${n}&last=${page.at(-1)}>; rel="next"` } : {});
      }
      if (repo === 'team/empty') return json({ name: repo, tags: null });
      if (repo === 'team/elsewhere') return json({ tags: ['a'] }, { link: '<http://example.invalid/v2/team/elsewhere/tags/list?last=a>; rel="next"' });
      if (repo === 'team/garbled') return json({ tags: 'a,b' });
      if (repo === 'team/limited') res.writeHead(429, { 'retry-after': '60' });
      else if (repo === 'team/locked') res.writeHead(401);
      else if (repo === 'team/down') res.writeHead(503);
      else res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  const image = (repo: string) => `${host}/${repo}@sha256:${'0'.repeat(64)}`;
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    return { code: err.code, status: err.answer.status, retryAfterMs: err.answer.retryAfterMs, message: err.message };
  };

  it('follows the Link header from page to page and returns every tag', async () => {
    seen.length = 0;
    assert.deepEqual(await listTags({ image: image('team/paged'), pageSize: 10 }), ALL);
    assert.deepEqual(seen.map((s) => s.url), [
      'GET /v2/team/paged/tags/list?n=10',
      'GET /v2/team/paged/tags/list?n=10&last=1.4.9',
      'GET /v2/team/paged/tags/list?n=10&last=1.4.19',
    ]);
  });

  it('reads an empty repository as no tags', async () => {
    assert.deepEqual(await listTags({ image: image('team/empty') }), []);
  });

  it('stops at the page bound and at the tag bound, rather than returning a prefix', async () => {
    const pages = await failure(listTags({ image: image('team/paged'), pageSize: 10, maxPages: 2 }));
    assert.equal(pages.code, 'upstream_failed');
    assert.match(pages.message, /team\/paged .* has more than 2 pages of tags/);
    seen.length = 0;
    const tags = await failure(listTags({ image: image('team/paged'), pageSize: 10, maxTags: 15 }));
    assert.match(tags.message, /has more than 15 tags/);
    assert.equal(seen.length, 2);
  });

  it('answers a Bearer challenge with a pull token for the repository and keeps it for every page', async () => {
    seen.length = 0;
    assert.deepEqual(await listTags({ image: image('team/private'), pageSize: 10 }), ALL);
    const pages = seen.filter((s) => s.url.startsWith('GET /v2/'));
    assert.equal(pages[0]?.auth, undefined);
    assert.ok(seen.some((s) => s.url.startsWith('GET /token') && s.url.includes('scope=repository%3Ateam%2Fprivate%3Apull')));
    assert.deepEqual(pages.slice(1).map((s) => s.auth), Array(3).fill('Bearer t:repository:team/private:pull'));
  });

  it('does not follow a next page on another origin', async () => {
    const away = await failure(listTags({ image: image('team/elsewhere') }));
    assert.match(away.message, /pointed the next page of .* away from \/v2\/team\/elsewhere\/tags\/list/);
  });

  it('types 404, 401, 429 and 5xx as the digest lookup does', async () => {
    assert.deepEqual(await failure(listTags({ image: image('team/gone') })), {
      code: 'image_not_found', status: 404, retryAfterMs: undefined, message: `image ${host}/team/gone not found in registry ${host} (repository not found)`,
    });
    assert.deepEqual(await failure(listTags({ image: image('team/limited') })), {
      code: 'upstream_failed', status: 429, retryAfterMs: 60_000, message: `registry ${host} answered HTTP 429 for ${host}/team/limited`,
    });
    const locked = await failure(listTags({ image: image('team/locked') }));
    assert.equal(locked.code, 'registry_credentials_required');
    assert.equal(locked.status, 401);
    assert.equal((await failure(listTags({ image: image('team/down') }))).status, 503);
    assert.match((await failure(listTags({ image: image('team/garbled') }))).message, /without a list of tags/);
  });
});
