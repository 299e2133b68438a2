// Private registries end to end below the config layer, against the real
// registry with htpasswd auth: the CLI resolves tags with the login, the agent
// pulls by digest with the sealed login, and a wrong or missing login fails
// clearly. The clear password appears in no row, event, log line or error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateIdentityKeys } from '../../shared/keys.js';
import { seal } from '../../shared/sealing.js';
import { BerthError } from '../../shared/errors.js';
import { createLogger } from '../../agent/log.js';
import { parseImageReference } from '../../shared/image-reference.js';
import { resolveImageDigest } from '../../cli/registry.js';
import { imagePresent, removeImage } from '../support/docker-cli.js';
import { sealFor, startEngineFixture, type EngineFixture } from '../support/engine-fixture.js';
import { MANIFEST_ACCEPT } from '../support/docker-cli.js';
import { testEnv } from '../support/env.js';

const env = testEnv();
const reg = env.authRegistry;
const LOGIN = { username: reg.username, password: reg.password };
const WRONG_PASSWORD = `wrong-${reg.password.slice(0, 6)}-Qx81`;
const engine = env.engines[0]!;
const basic = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString('base64');

/** The digest of a tag, read straight from the registry with the login (not through the code under test). */
async function registryDigest(tag: string): Promise<string> {
  const res = await fetch(`http://${reg.address}/v2/berth-test/web/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: MANIFEST_ACCEPT, Authorization: `Basic ${basic(reg.username, reg.password)}` },
  });
  const digest = res.headers.get('docker-content-digest');
  assert.equal(res.status, 200);
  assert.match(digest ?? '', /^sha256:[0-9a-f]{64}$/);
  return digest!;
}

function assertNoPassword(what: string, text: string): void {
  for (const secret of [reg.password, WRONG_PASSWORD, basic(reg.username, reg.password), basic(reg.username, WRONG_PASSWORD)]) {
    assert.ok(!text.includes(secret), `${what} contains a clear password`);
  }
}

describe('CLI: tag to digest in a registry that needs a login', () => {
  const ref = (tag: string) => parseImageReference(`${reg.address}/berth-test/web:${tag}`);
  const rejects = (p: Promise<unknown>, code: string, message: RegExp) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof BerthError, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      assertNoPassword('the error', `${e.message} ${e.hint ?? ''}`);
      return true;
    });

  test('the right login resolves the digest the registry holds', async () => {
    assert.equal(await resolveImageDigest(ref('v1'), LOGIN), await registryDigest('v1'));
    assert.equal(await resolveImageDigest(parseImageReference(reg.images.v2), LOGIN), await registryDigest('v2'));
  });

  test('a wrong password says "credentials rejected", naming the registry and the user', async () => {
    await rejects(
      resolveImageDigest(ref('v1'), { username: reg.username, password: WRONG_PASSWORD }),
      'registry_credentials_rejected',
      new RegExp(`^registry ${reg.address}: credentials rejected for user ${reg.username} `),
    );
    await rejects(resolveImageDigest(ref('v1'), { username: 'nobody', password: reg.password }), 'registry_credentials_rejected', /credentials rejected for user nobody/);
  });

  test('no login says credentials are required', async () => {
    await rejects(resolveImageDigest(ref('v1')), 'registry_credentials_required', new RegExp(`^registry ${reg.address} requires credentials for berth-test/web`));
  });

  test('a missing tag or repository with the right login says "repository or tag not found"', async () => {
    await rejects(resolveImageDigest(ref('no-such-tag'), LOGIN), 'image_not_found', /berth-test\/web:no-such-tag not found .*repository or tag not found/);
    await rejects(
      resolveImageDigest(parseImageReference(`${reg.address}/berth-test/nothing:v1`), LOGIN),
      'image_not_found',
      /repository or tag not found/,
    );
  });
});

describe('agent: pulls from the registry with the sealed login', () => {
  let f: EngineFixture;
  const logLines: string[] = [];
  const image: Record<'v1' | 'v2', string> = { v1: '', v2: '' };

  before(async () => {
    f = await startEngineFixture('regauth', engine, { log: createLogger('engine', (line) => logLines.push(line)) });
    for (const tag of ['v1', 'v2'] as const) {
      image[tag] = `${reg.address}/berth-test/web@${await registryDigest(tag)}`;
      await removeImage(engine.host, image[tag]);
    }
  });
  after(async () => {
    await f.close();
    for (const ref of Object.values(image)) if (ref) await removeImage(engine.host, ref);
  });

  const login = async (password: string, sealTo?: Parameters<typeof seal>[1]) => ({
    registry: {
      server: reg.address,
      username: reg.username,
      password: sealTo
        ? await seal(password, sealTo, { use: 'registry-password', service: f.service, destination: '', server: reg.address })
        : await sealFor(f, password, { server: reg.address }),
    },
  });

  function assertNothingLeaks(): void {
    const dump = JSON.stringify(f.store.dump());
    assertNoPassword('the agent database', dump);
    assertNoPassword('the agent log', logLines.join('\n'));
  }

  test('a deploy pulls by digest with the login and serves', async () => {
    assert.equal(await imagePresent(engine.host, image.v1), false, 'the engine must pull');
    const m = f.manifest('v1', image.v1, await login(reg.password));
    const d = await f.deploy(m);
    assert.equal(d.state, 'DONE', d.error ?? '');
    assert.equal((await f.get('/')).body, 'v1\n');
    assert.equal(await imagePresent(engine.host, image.v1), true);
    const messages = f.store.events(d.id).map((e) => e.message);
    assert.ok(messages.includes(`pulling ${image.v1} as ${reg.username} on ${reg.address}`), messages.join('\n'));
    // Stored, but only sealed.
    assert.ok(JSON.stringify(f.store.dump()).includes(m.registry!.password));
    assertNothingLeaks();
  });

  test('a wrong password fails the deploy naming the registry and the user; v1 keeps serving', async () => {
    const d = await f.deploy(f.manifest('v2-wrong', image.v2, await login(WRONG_PASSWORD)));
    assert.equal(d.state, 'REVERTED');
    assert.match(d.error ?? '', new RegExp(`^registry ${reg.address} rejected the credentials of user ${reg.username} \\(pulling ${image.v2.replace(/[.]/g, '\\.')}\\)`));
    assertNoPassword('the deploy error', d.error ?? '');
    assertNoPassword('the deploy events', JSON.stringify(f.store.events(d.id)));
    assert.equal(await imagePresent(engine.host, image.v2), false);
    assert.equal((await f.get('/')).body, 'v1\n');
    assertNothingLeaks();
  });

  test('no login for a private image fails saying credentials are required', async () => {
    const d = await f.deploy(f.manifest('v2-anon', image.v2));
    assert.equal(d.state, 'REVERTED');
    assert.match(d.error ?? '', new RegExp(`^registry ${reg.address} requires credentials to pull `));
    assert.equal((await f.get('/')).body, 'v1\n');
  });

  test('a password sealed to another agent fails without a pull', async () => {
    const other = await generateIdentityKeys();
    const d = await f.deploy(f.manifest('v2-sealed-elsewhere', image.v2, await login(reg.password, other.sealing.publicJwk)));
    assert.equal(d.state, 'REVERTED');
    assert.match(d.error ?? '', new RegExp(`^the password of registry ${reg.address} \\(user ${reg.username}\\) could not be unsealed`));
    assert.equal(await imagePresent(engine.host, image.v2), false);
  });

  test('after the failures, the right login deploys v2', async () => {
    const d = await f.deploy(f.manifest('v2', image.v2, await login(reg.password)));
    assert.equal(d.state, 'DONE', d.error ?? '');
    assert.equal((await f.get('/')).body, 'v2\n');
    assertNothingLeaks();
  });
});
