// deploy push with accessories: refused (nothing sent) by an agent without
// accessories.v1; otherwise the host's manifest carries the accessory with env
// secrets and file contents sealed to that agent, each for its own use only.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SealBindingError } from '../../../shared/errors.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { openSealed } from '../../../shared/sealing.js';
import { featurePushFixture, type FakeAgent } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const REDIS = `redis@sha256:${'ef'.repeat(32)}`;
const ACCESSORIES = `accessories:
  cache:
    image: ${REDIS}
    host: 127.0.0.1
    port: "127.0.0.1:6379:6379"
    cmd: redis-server /etc/redis.conf
    env:
      clear:
        MODE: primary
      secret:
        - CACHE_PASSWORD
    files:
      - local: config/redis.conf
        remote: /etc/redis.conf
        mode: "0640"
        owner: "999"
    directories:
      - data:/data
`;

describe('deploy push with accessories', () => {
  let f: Awaited<ReturnType<typeof featurePushFixture>>;
  before(async () => {
    f = await featurePushFixture('accessories.v1');
    mkdirSync(join(f.dir, '.kamal'));
    mkdirSync(join(f.dir, 'config'));
    writeFileSync(join(f.dir, 'config', 'redis.conf'), 'requirepass s3cret-conf\n');
  });
  after(() => f.close());

  const configure = (agent: FakeAgent) => {
    writeFileSync(join(f.dir, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - 127.0.0.1:${agent.port}\nproxy:\n  host: demo.test\n${ACCESSORIES}`);
    writeFileSync(join(f.dir, '.kamal', 'secrets'), 'CACHE_PASSWORD=pw-123456\n');
  };

  it('refuses an agent without accessories.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(f.outdated);
    const host = `127\\.0\\.0\\.1:${f.outdated.port}`;
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host} \\(version 0\\.1\\.0\\) does not support accessories\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host}`));
    assert.equal(f.outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('sends the accessory pinned by digest, with env secret and file sealed to the agent for that accessory only', async () => {
    configure(f.current);
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 0, res.stderr);
    const token = f.accepted.at(-1)!;
    const payload = await verifyManifest(token, { lookupKey: () => f.publicJwk, audience: f.current.agentId });
    const cache = payload.accessories?.cache ?? assert.fail('no accessory in the manifest');
    assert.equal(cache.image, REDIS);
    assert.equal(cache.port, '127.0.0.1:6379:6379');
    assert.deepEqual(cache.cmd, ['redis-server', '/etc/redis.conf']);
    assert.deepEqual(cache.env.clear, { MODE: 'primary' });
    assert.deepEqual(cache.directories, [{ source: 'data', target: '/data' }]);
    assert.deepEqual(cache.files.map((x) => [x.target, x.mode, x.owner]), [['/etc/redis.conf', '0640', '999']]);
    assert.ok(!token.includes('pw-123456') && !token.includes('s3cret-conf'), 'no clear secret in the manifest');
    const key = f.current.keys.sealing.privateJwk;
    const where = { service: 'demo', destination: '', accessory: 'cache' };
    const env = cache.env.secret.CACHE_PASSWORD ?? assert.fail('no sealed env');
    const file = cache.files[0]?.content ?? assert.fail('no sealed file');
    assert.deepEqual(await openSealed(env, key, { use: 'accessory-env', ...where, name: 'CACHE_PASSWORD' }), { value: 'pw-123456', bound: true });
    assert.deepEqual(await openSealed(file, key, { use: 'accessory-file', ...where, target: '/etc/redis.conf' }), { value: 'requirepass s3cret-conf\n', bound: true });
    for (const [sealed, other] of [
      [env, { use: 'accessory-env' as const, ...where, accessory: 'other', name: 'CACHE_PASSWORD' }],
      [file, { use: 'accessory-file' as const, ...where, target: '/etc/other.conf' }],
      [env, { use: 'env' as const, service: 'demo', destination: '', role: 'web', name: 'CACHE_PASSWORD' }],
    ] as const) {
      await assert.rejects(openSealed(sealed, key, other), (e: unknown) => e instanceof SealBindingError && e.code === 'seal_mismatch');
    }
  });

  it('a missing local file stops the push before any server is contacted, naming the file and key', async () => {
    configure(f.current);
    writeFileSync(join(f.dir, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - 127.0.0.1:${f.current.port}\nproxy:\n  host: demo.test\n${ACCESSORIES.replace('config/redis.conf', 'config/missing.conf')}`);
    const before = f.current.requests.length;
    const res = await f.run(['push', '--version', 'r2', '--trust-new']);
    assert.equal(res.code, 2, 'a config error');
    assert.match(res.stderr, /accessories\/cache\/files\/0: config\/missing\.conf: no such file/);
    assert.equal(f.current.requests.length, before);
  });
});
