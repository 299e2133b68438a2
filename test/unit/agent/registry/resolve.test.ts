// The agent's lookup against a local stand-in for the answers the real test
// registry cannot be made to give: 429 with Retry-After, 5xx, a HEAD without a
// digest header, a manifest too large to read.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resolveTagDigest } from '../../../../agent/registry/resolve.js';
import { RegistryError } from '../../../../shared/errors.js';

const DIGEST = `sha256:${'ef'.repeat(32)}`;
const BODY = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}';

describe('agent tag lookup: what the registry answered, typed', () => {
  let server: http.Server;
  let host: string;
  const seen: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const tag = (req.url ?? '').split('/').pop();
      if (tag === 'limited') res.writeHead(429, { 'retry-after': '120' });
      else if (tag === 'limited-date') res.writeHead(429, { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() });
      else if (tag === 'down') res.writeHead(503, { 'retry-after': '30' });
      else if (tag === 'broken') res.writeHead(500);
      else if (tag === 'forbidden') res.writeHead(403);
      else if (tag === 'main') res.writeHead(200, { 'docker-content-digest': DIGEST });
      else if (tag === 'nodigest') res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
      else if (tag === 'huge') res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' });
      else res.writeHead(404);
      if (tag === 'nodigest' && req.method === 'GET') return res.end(BODY);
      if (tag === 'huge' && req.method === 'GET') return res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  const lookup = (tag: string) => resolveTagDigest({ image: `${host}/team/app@sha256:${'0'.repeat(64)}`, tag });
  const answer = async (tag: string) => {
    const err = await lookup(tag).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof RegistryError, String(err));
    return { code: err.code, status: err.answer.status, retryAfterMs: err.answer.retryAfterMs, message: err.message };
  };

  it('asks the manifest of the repository in the image with a HEAD, whatever digest the image is pinned to', async () => {
    seen.length = 0;
    assert.deepEqual(await lookup('main'), { digest: DIGEST });
    assert.deepEqual(seen, ['HEAD /v2/team/app/manifests/main']);
  });

  it('falls back to a GET and hashes the manifest when the HEAD has no digest', async () => {
    assert.deepEqual(await lookup('nodigest'), { digest: `sha256:${createHash('sha256').update(BODY).digest('hex')}` });
  });

  it('reads 429 with its Retry-After, in seconds or as a date', async () => {
    assert.deepEqual(await answer('limited'), { code: 'upstream_failed', status: 429, retryAfterMs: 120_000, message: `registry ${host} answered HTTP 429 for ${host}/team/app:limited` });
    const dated = await answer('limited-date');
    assert.equal(dated.status, 429);
    assert.ok(dated.retryAfterMs !== undefined && dated.retryAfterMs > 3_500_000 && dated.retryAfterMs <= 3_600_000, String(dated.retryAfterMs));
  });

  it('tells 5xx, 404 and 403 apart', async () => {
    assert.deepEqual(await answer('down'), { code: 'upstream_failed', status: 503, retryAfterMs: 30_000, message: `registry ${host} answered HTTP 503 for ${host}/team/app:down` });
    assert.equal((await answer('broken')).status, 500);
    assert.deepEqual(await answer('gone'), { code: 'image_not_found', status: 404, retryAfterMs: undefined, message: `image ${host}/team/app:gone not found in registry ${host} (repository or tag not found)` });
    assert.deepEqual(await answer('forbidden'), { code: 'registry_credentials_required', status: 403, retryAfterMs: undefined, message: `registry ${host} refused anonymous access to team/app (HTTP 403)` });
  });

  it('stops reading a manifest past 4 MiB', async () => {
    const huge = await answer('huge');
    assert.equal(huge.code, 'upstream_failed');
    assert.match(huge.message, /the manifest of .*team\/app:huge is larger than 4194304 bytes/);
  });

  it('refuses a tag that is not a tag before asking anything', async () => {
    seen.length = 0;
    await assert.rejects(lookup('../../evil'), /invalid image reference/);
    assert.deepEqual(seen, []);
  });
});
