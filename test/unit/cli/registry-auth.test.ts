// Registry logins against a local stand-in that speaks the distribution API's
// two auth schemes the way real registries do: HTTP Basic (distribution with
// htpasswd) and Bearer tokens from a realm that takes the login as Basic auth
// (Docker Hub, GHCR). Every refusal names the registry and user, never the password.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseImageReference } from '../../../shared/image-reference.js';
import { resolveImageDigest } from '../../../cli/registry.js';
import { parseChallenge } from '../../../shared/registry/auth.js';
import { BerthError, UserError } from '../../../shared/errors.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const USER = 'alice';
const PASSWORD = 'pw-Zq7!never-shown';
const RIGHT = { username: USER, password: PASSWORD };
const WRONG = { username: USER, password: 'pw-wrong-Xy9' };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

interface Seen { url: string; auth: string | undefined }

function rejectsWith(p: Promise<unknown>, code: string, message: RegExp, secrets: string[] = [PASSWORD, WRONG.password]): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected a BerthError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    for (const s of secrets) assert.ok(!`${e.message} ${e.hint ?? ''}`.includes(s), `the error shows a password: ${e.message}`);
    return true;
  });
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; base: string }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function manifestAnswer(res: http.ServerResponse): void {
  res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': 'application/vnd.oci.image.index.v1+json' });
  res.end();
}

describe('registry with HTTP Basic auth (distribution + htpasswd)', () => {
  let server: http.Server;
  let base: string;
  const seen: Seen[] = [];
  before(async () => {
    ({ server, base } = await listen((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (req.headers.authorization !== basic(USER, PASSWORD)) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="basic-realm"' });
        return res.end();
      }
      if (req.url === '/v2/team/web/manifests/v1') return manifestAnswer(res);
      res.writeHead(404);
      res.end();
    }));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const ref = (tag = 'v1', repo = 'team/web') => parseImageReference(`${base.slice(7)}/${repo}:${tag}`);

  it('resolves the tag with the right login, sent as Basic auth', async () => {
    seen.length = 0;
    assert.equal(await resolveImageDigest(ref(), RIGHT), DIGEST);
    assert.deepEqual(seen.map((s) => s.auth), [undefined, basic(USER, PASSWORD)]);
  });

  it('says "credentials rejected" for a wrong password, naming registry and user', async () => {
    await rejectsWith(resolveImageDigest(ref(), WRONG), 'registry_credentials_rejected', new RegExp(`registry ${base.slice(7)}: credentials rejected for user alice`));
  });

  it('says credentials are required when none are given', async () => {
    await rejectsWith(resolveImageDigest(ref()), 'registry_credentials_required', /requires credentials for team\/web/);
  });

  it('says "repository or tag not found" for a missing tag or repository with a good login', async () => {
    await rejectsWith(resolveImageDigest(ref('nope'), RIGHT), 'image_not_found', /team\/web:nope not found in registry .*repository or tag not found/);
    await rejectsWith(resolveImageDigest(ref('v1', 'team/other'), RIGHT), 'image_not_found', /repository or tag not found/);
  });

  it('refuses a login Basic auth cannot carry, without sending it; a good one is the control', async () => {
    seen.length = 0;
    await rejectsWith(resolveImageDigest(ref(), { username: 'a:b', password: PASSWORD }), 'invalid_input', /login for registry .* is unusable: the username/);
    await rejectsWith(resolveImageDigest(ref(), { username: USER, password: '' }), 'invalid_input', /password of user alice is empty/);
    await rejectsWith(resolveImageDigest(ref(), { username: USER, password: `${PASSWORD}\r\nX-Evil: 1` }), 'invalid_input', /line break/);
    assert.equal(seen.length, 0, 'nothing was sent');
    assert.equal(await resolveImageDigest(ref(), RIGHT), DIGEST);
  });
});

describe('registry with Bearer tokens (Docker Hub style)', () => {
  let server: http.Server;
  let base: string;
  let other: { server: http.Server; base: string };
  const seen: Seen[] = [];
  const otherSeen: Seen[] = [];
  before(async () => {
    other = await listen((req, res) => {
      otherSeen.push({ url: req.url ?? '', auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"token":"stolen"}');
    });
    ({ server, base } = await listen((req, res) => {
      const url = new URL(req.url ?? '/', base);
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (url.pathname === '/token') {
        if (url.searchParams.get('service') === 'redirecting') {
          res.writeHead(307, { location: `${other.base}/token` });
          return res.end();
        }
        const scope = url.searchParams.get('scope');
        if (!req.headers.authorization) {
          // Public repositories get anonymous tokens; private ones need a login.
          if (scope === 'repository:library/public:pull') {
            res.writeHead(200, { 'content-type': 'application/json' });
            return res.end('{"token":"anon"}');
          }
          res.writeHead(401);
          return res.end();
        }
        if (req.headers.authorization !== basic(USER, PASSWORD) || url.searchParams.get('account') !== USER) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end('{"details":"incorrect username or password"}');
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ access_token: `token-for:${scope}` }));
      }
      const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      const repo = m?.[1] ?? '';
      const service = repo === 'redirect/web' ? 'redirecting' : 'emu';
      const challenge = (error?: string) =>
        `Bearer realm="${base}/token",service="${service}",scope="repository:${repo}:pull,push"${error ? `,error="${error}"` : ''}`;
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ')) {
        res.writeHead(401, { 'www-authenticate': challenge() });
        return res.end();
      }
      const granted = auth === 'Bearer anon' ? 'library/public' : auth.slice('Bearer token-for:repository:'.length).replace(/:pull$/, '');
      // Like Docker Hub: a token for another or a missing repository is "insufficient_scope".
      if (granted !== repo || !['acme/private', 'library/public'].includes(repo)) {
        res.writeHead(401, { 'www-authenticate': challenge('insufficient_scope') });
        return res.end();
      }
      if (m?.[2] === 'v1') return manifestAnswer(res);
      res.writeHead(404);
      res.end();
    }));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => other.server.close(() => resolve()));
  });
  const ref = (repo: string, tag = 'v1') => parseImageReference(`${base.slice(7)}/${repo}:${tag}`);

  it('trades the login for a pull token at the realm, then resolves', async () => {
    seen.length = 0;
    assert.equal(await resolveImageDigest(ref('acme/private'), RIGHT), DIGEST);
    const tokenCall = seen.find((s) => s.url.startsWith('/token'));
    assert.ok(tokenCall);
    assert.equal(tokenCall.auth, basic(USER, PASSWORD));
    // Our own pull scope, not the push the challenge asked for.
    assert.match(tokenCall.url, /scope=repository%3Aacme%2Fprivate%3Apull&account=alice$/);
    assert.equal(seen.at(-1)?.auth, 'Bearer token-for:repository:acme/private:pull');
  });

  it('gets anonymous tokens for public repositories, with or without a login', async () => {
    assert.equal(await resolveImageDigest(ref('library/public')), DIGEST);
  });

  it('says "credentials rejected" when the token service refuses the login', async () => {
    await rejectsWith(resolveImageDigest(ref('acme/private'), WRONG), 'registry_credentials_rejected', /credentials rejected for user alice \(the token service 127\.0\.0\.1:\d+ answered HTTP 401\)/);
  });

  it('says credentials are required when an anonymous token is refused', async () => {
    await rejectsWith(resolveImageDigest(ref('acme/private')), 'registry_credentials_required', /requires credentials for acme\/private .*anonymous token: HTTP 401/);
  });

  it('tells a repository the login cannot see apart from a refused login, and a missing tag as not found', async () => {
    await rejectsWith(resolveImageDigest(ref('acme/secret'), RIGHT), 'registry_access_denied', /user alice may not pull acme\/secret, or the repository does not exist/);
    await rejectsWith(resolveImageDigest(ref('acme/private', 'v9'), RIGHT), 'image_not_found', /acme\/private:v9 not found .*repository or tag not found/);
  });

  it('does not follow a redirect of a request that carries the login', async () => {
    otherSeen.length = 0;
    await rejectsWith(resolveImageDigest(ref('redirect/web'), RIGHT), 'upstream_failed', /redirected a request that carries credentials; not following it/);
    assert.deepEqual(otherSeen, [], 'the login never reached the redirect target');
  });
});

describe('challenge parsing', () => {
  it('reads Basic and Bearer challenges; anything else is not understood', () => {
    assert.deepEqual(parseChallenge('Basic realm="Registry Realm"'), { scheme: 'basic', realm: 'Registry Realm' });
    assert.deepEqual(parseChallenge('basic'), { scheme: 'basic', realm: undefined });
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",error="insufficient_scope"'), {
      scheme: 'bearer', realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: undefined, error: 'insufficient_scope',
    });
    assert.equal(parseChallenge('Bearer service="x"'), undefined);
    assert.equal(parseChallenge('Digest realm="x"'), undefined);
    assert.equal(parseChallenge('Basicx realm="x"'), undefined);
    assert.equal(parseChallenge(''), undefined);
  });
});

it('a UserError is what bad credentials give (the CLI renders it as a user mistake)', async () => {
  await assert.rejects(resolveImageDigest(parseImageReference('127.0.0.1:1/x/y:v1'), { username: '', password: 'p' }), UserError);
});
