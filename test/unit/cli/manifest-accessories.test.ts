// Which accessories each host's manifest carries (host, role and tag placement),
// with secrets and files sealed for that accessory and images pinned through a
// registry emulation: the app's login only on the app's registry.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { buildManifestPayload, checkDeployable, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { generateIdentityKeys } from '../../../shared/keys.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { openSealed, seal, type SealBinding } from '../../../shared/sealing.js';
import { tempDir } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/kamal/', import.meta.url));
const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '', seq: 1, nowSeconds: 1_800_000_000 };

describe('accessories in each host manifest', () => {
  let server: http.Server;
  let registry: string;
  const seen: Array<{ url: string; auth: string }> = [];
  before(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      const auth = req.headers.authorization ?? '-';
      seen.push({ url, auth });
      // The app's repository needs the app's login; the other one is public.
      if (url.startsWith('/v2/shop/cache/') && auth !== `Basic ${Buffer.from('deployer:pw-reg').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="emu"' });
        return res.end();
      }
      if (url === '/v2/shop/cache/manifests/7' || url === '/v2/public/search/manifests/1') {
        res.writeHead(200, { 'docker-content-digest': DIGEST, 'content-type': 'application/vnd.oci.image.index.v1+json' });
        return res.end();
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));

  it('places by host, role and tag; seals per accessory; resolves each image once, with the login only on its registry', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'cache.conf'), 'maxmemory 64mb\n');
      writeFileSync(join(dir.path, 'deploy.yml'), `service: shop
image: ${registry}/shop/web:v1
registry:
  server: ${registry}
  username: deployer
  password:
    - REG_PASSWORD
servers:
  web:
    hosts:
      - 10.0.0.1
      - 10.0.0.2: search
  worker:
    hosts:
      - 10.0.0.3
    cmd: bin/jobs
proxy:
  host: shop.example.com
accessories:
  cache:
    image: ${registry}/shop/cache:7
    role: web
    files:
      - cache.conf:/etc/cache.conf
  search:
    image: ${registry.replace('127.0.0.1', 'localhost')}/public/search:1
    tag: search
  db:
    image: mysql@${DIGEST}
    host: 10.0.0.3
    env:
      secret:
        - DB_PASSWORD
    directories:
      - data:/var/lib/mysql
`);
      const { config } = await loadConfig(dir.path);
      const plan = planContainers(config);
      assert.deepEqual(plan.secretNames, ['DB_PASSWORD', 'REG_PASSWORD']);
      assert.deepEqual(checkDeployable(plan), []);
      assert.ok(planFeatures(plan, config).includes('accessories.v1'));
      const keys = await generateIdentityKeys();
      const secrets: Record<string, string> = { DB_PASSWORD: 'pw-db', REG_PASSWORD: 'pw-reg' };
      const sealing = {
        seal: (v: string, b: SealBinding) => seal(v, keys.sealing.publicJwk, b),
        secret: (name: string) => secrets[name] ?? assert.fail(`unexpected secret ${name}`),
        registry: { server: registry, username: 'deployer', password: 'pw-reg' },
      };
      const byHost: Record<string, string[]> = {};
      const manifests = [];
      for (const host of ['10.0.0.1:7443', '10.0.0.2:7443', '10.0.0.3:7443']) {
        const m = await buildManifestPayload(config, plan, host, { ...facts, image: `${registry}/shop/web@${DIGEST}` }, sealing);
        parseManifestPayload(m);
        byHost[host] = Object.keys(m.accessories ?? {});
        manifests.push(m);
      }
      assert.deepEqual(byHost, { '10.0.0.1:7443': ['cache'], '10.0.0.2:7443': ['cache', 'search'], '10.0.0.3:7443': ['db'] });
      const [one, two, three] = manifests;
      assert.equal(one?.accessories?.cache?.image, `${registry}/shop/cache@${DIGEST}`);
      assert.equal(two?.accessories?.search?.image, `${registry.replace('127.0.0.1', 'localhost')}/public/search@${DIGEST}`);
      assert.equal(three?.accessories?.db?.image, `mysql@${DIGEST}`);
      assert.deepEqual(three?.accessories?.db?.directories, [{ source: 'data', target: '/var/lib/mysql' }]);
      // One lookup per image for the whole push; the public registry never sees the login.
      assert.deepEqual(seen.map((s) => `${s.url} ${s.auth === '-' ? '-' : 'auth'}`), ['/v2/shop/cache/manifests/7 -', '/v2/shop/cache/manifests/7 auth', '/v2/public/search/manifests/1 -']);
      const where = { service: 'shop', destination: '' };
      const file = one?.accessories?.cache?.files?.[0];
      assert.equal(file?.mode, '0755');
      assert.deepEqual(await openSealed(file?.content ?? '', keys.sealing.privateJwk, { use: 'accessory-file', ...where, accessory: 'cache', target: '/etc/cache.conf' }), { value: 'maxmemory 64mb\n', bound: true });
      const env = three?.accessories?.db?.env?.secret?.DB_PASSWORD ?? '';
      assert.deepEqual(await openSealed(env, keys.sealing.privateJwk, { use: 'accessory-env', ...where, accessory: 'db', name: 'DB_PASSWORD' }), { value: 'pw-db', bound: true });
    } finally {
      dir.cleanup();
    }
  });
});

describe('accessory files a push refuses before contacting any server', () => {
  it('a file over 64 KiB, a directory and a binary file, each named with its key', async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, 'big.conf'), 'x'.repeat(64 * 1024 + 1));
      writeFileSync(join(dir.path, 'blob.bin'), Buffer.from([0xff, 0xfe, 0x00]));
      const yml = (local: string) => `service: shop\nimage: shop/web:v1\nservers:\n  - 10.0.0.1\nproxy:\n  host: shop.example.com\naccessories:\n  cache:\n    image: redis:7\n    host: 10.0.0.1\n    files:\n      - ${local}:/etc/x.conf\n`;
      const refusal = async (local: string) => {
        writeFileSync(join(dir.path, 'deploy.yml'), yml(local));
        const { config } = await loadConfig(dir.path);
        try {
          checkDeployable(planContainers(config));
        } catch (e) {
          return e instanceof ConfigError ? e.message : String(e);
        }
        return assert.fail('expected a refusal');
      };
      assert.equal(await refusal('big.conf'), 'accessories/cache/files/0: big.conf is 65537 bytes; an accessory file may have at most 65536');
      assert.equal(await refusal('.'), 'accessories/cache/files/0: . is not a file (Berth uploads single files; list each file of a directory)');
      assert.equal(await refusal('blob.bin'), 'accessories/cache/files/0: blob.bin is not UTF-8 text; accessory files travel as text');
    } finally {
      dir.cleanup();
    }
  });
});

describe('Kamal examples with accessories', () => {
  it('postgres-app: the accessory lands on the web host with its secret sealed and its kept directory', async () => {
    const { config } = await loadConfig(join(FIXTURES, 'postgres-app'));
    const plan = planContainers(config);
    assert.ok(planFeatures(plan, config).includes('accessories.v1'));
    const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => 'x'.repeat(12), registry: undefined };
    const image = `postgres@${DIGEST}`;
    const m = await buildManifestPayload(config, plan, '185.194.140.87:7443', { ...facts, image: `shuirong/test@${DIGEST}`, accessoryImages: { postgres: image } }, sealing);
    assert.deepEqual(m.accessories, {
      postgres: {
        image,
        port: '127.0.0.1:5432:5432',
        env: { clear: { POSTGRES_USER: 'postgres', POSTGRES_DB: 'production_db' }, secret: { POSTGRES_PASSWORD: 'sealed(12)' } },
        files: [],
        directories: [{ source: 'data', target: '/var/lib/postgresql/data' }],
      },
    });
  });

  it('mysql-cron-app: its files are read from the app directory; a db host that runs no role is warned about and needs no feature', async () => {
    const { config } = await loadConfig(join(FIXTURES, 'mysql-cron-app'), undefined, 'staging');
    const plan = planContainers(config);
    assert.deepEqual(checkDeployable(plan).filter((w) => w.includes('accessories')), [
      'warning: accessories/db: myapp.host runs no role of myapp, so deploy push does not reach it and does not boot db there',
    ]);
    assert.ok(!planFeatures(plan, config).includes('accessories.v1'));
  });
});
