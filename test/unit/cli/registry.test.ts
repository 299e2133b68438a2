import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseImageReference } from '../../../shared/image-reference.js';
import { MANIFEST_ACCEPT, parseBearerChallenge, registryBaseUrl, resolveImageDigest } from '../../../cli/registry.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('registry addresses and challenges', () => {
  it('speaks HTTP only to loopback registries', () => {
    assert.equal(registryBaseUrl('127.0.0.1:5000'), 'http://127.0.0.1:5000');
    assert.equal(registryBaseUrl('localhost:5000'), 'http://localhost:5000');
    assert.equal(registryBaseUrl('[::1]:5000'), 'http://[::1]:5000');
    assert.equal(registryBaseUrl('registry.example.com'), 'https://registry.example.com');
    assert.equal(registryBaseUrl('127.example.com:5000'), 'https://127.example.com:5000');
  });

  it('parses bearer challenges', () => {
    assert.deepEqual(parseBearerChallenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"'), { realm: 'https://auth.example/token', service: 'reg', scope: 'repository:a/b:pull' });
    assert.equal(parseBearerChallenge('Basic realm="x"'), undefined);
    assert.equal(parseBearerChallenge('Bearer service="x"'), undefined);
  });
});

// A protocol emulation of the distribution API, the way the real registry answers.
describe('tag → digest against a registry emulation', () => {
  let server: http.Server;
  let base: string;
  const seen: Array<{ method: string; url: string; auth?: string }> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      seen.push({ method: req.method ?? '', url, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      const accept = req.headers.accept ?? '';
      const knowsManifests = accept.includes('application/vnd.oci.image.index.v1+json') && accept.includes('application/vnd.docker.distribution.manifest.v2+json');
      if (url === '/token?service=emu&scope=repository%3Aprivate%2Fweb%3Apull') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token: 'anon-token' }));
      }
      if (url === '/token?service=emu&scope=repository%3Amoved%2Fweb%3Apull') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ token: 'moved-token' }));
      }
      if (url === '/v2/moved/web/manifests/v1') {
        if (req.headers.authorization !== 'Bearer moved-token') {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="emu",scope="repository:moved/web:pull"` });
          return res.end();
        }
        // Another origin (localhost, not 127.0.0.1), as a registry sending pulls to a mirror would.
        res.writeHead(307, { location: `${base.replace('127.0.0.1', 'localhost')}/v2/berth-test/web/manifests/v1` });
        return res.end();
      }
      if (url === '/v2/slow/web/manifests/v1') return; // never answers
      if (url.startsWith('/v2/private/web/manifests/')) {
        if (req.headers.authorization !== 'Bearer anon-token') {
          res.writeHead(401, { 'www-authenticate': `Bearer realm="${base}/token",service="emu",scope="repository:private/web:pull"` });
          return res.end();
        }
      }
      if (url === '/v2/berth-test/web/manifests/v1' || url === '/v2/private/web/manifests/v1') {
        if (!knowsManifests) {
          res.writeHead(400);
          return res.end();
        }
        res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': 'application/vnd.oci.image.index.v1+json' });
        return res.end();
      }
      if (url === '/v2/nodigest/web/manifests/v1') {
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        return res.end(req.method === 'GET' ? '{"schemaVersion":2}' : undefined);
      }
      if (url === '/v2/closed/web/manifests/v1') {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        return res.end();
      }
      if (url === '/v2/broken/web/manifests/v1') {
        res.writeHead(500);
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  const ref = (repo: string, tag = 'v1') => parseImageReference(`${base.slice('http://'.length)}/${repo}:${tag}`);

  it('answers 400 without the manifest Accept list (the trap) and the digest with it', async () => {
    const plain = await fetch(`${base}/v2/berth-test/web/manifests/v1`, { method: 'HEAD' });
    assert.equal(plain.status, 400);
    assert.ok(MANIFEST_ACCEPT.includes('application/vnd.docker.distribution.manifest.list.v2+json'));
    assert.equal(await resolveImageDigest(ref('berth-test/web')), DIGEST);
  });

  it('follows an anonymous bearer challenge', async () => {
    seen.length = 0;
    assert.equal(await resolveImageDigest(ref('private/web')), DIGEST);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url.split('?')[0]} ${s.auth ?? '-'}`),
      ['HEAD /v2/private/web/manifests/v1 -', 'GET /token -', 'HEAD /v2/private/web/manifests/v1 Bearer anon-token'],
    );
  });

  it('follows a redirect of a request without a login; its token does not go to the other origin', async () => {
    seen.length = 0;
    assert.equal(await resolveImageDigest(ref('moved/web')), DIGEST);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url.split('?')[0]} ${s.auth ?? '-'}`),
      ['HEAD /v2/moved/web/manifests/v1 -', 'GET /token -', 'HEAD /v2/moved/web/manifests/v1 Bearer moved-token', 'HEAD /v2/berth-test/web/manifests/v1 -'],
    );
  });

  it('gives up on a registry that does not answer within the timeout', async () => {
    await assert.rejects(resolveImageDigest(ref('slow/web'), undefined, { timeoutMs: 200 }), /cannot reach registry 127\.0\.0\.1:\d+: no answer within 0\.2s/);
  });

  it('hashes the manifest when the registry sends no digest header', async () => {
    const { createHash } = await import('node:crypto');
    assert.equal(await resolveImageDigest(ref('nodigest/web')), `sha256:${createHash('sha256').update('{"schemaVersion":2}').digest('hex')}`);
  });

  it('does not ask the registry about digest references', async () => {
    seen.length = 0;
    assert.equal(await resolveImageDigest(parseImageReference(`${base.slice(7)}/x/y@${DIGEST}`)), DIGEST);
    assert.equal(seen.length, 0);
  });

  it('names the image when the tag does not exist, access is refused or the registry fails', async () => {
    await assert.rejects(resolveImageDigest(ref('berth-test/web', 'nope')), /image 127\.0\.0\.1:\d+\/berth-test\/web:nope not found in registry/);
    await assert.rejects(resolveImageDigest(ref('closed/web')), /requires credentials for closed\/web/);
    await assert.rejects(resolveImageDigest(ref('broken/web')), /answered HTTP 500 for .*broken\/web:v1/);
    await assert.rejects(resolveImageDigest(parseImageReference('127.0.0.1:1/x/y:v1')), /cannot reach registry 127\.0\.0\.1:1/);
  });
});
