// asset_path from deploy.yml to the manifest: per role or top level, proxied
// roles only (as Kamal), mount options, the feature the CLI then requires.
// error_pages_path: test/unit/cli/error-pages.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { buildManifestPayload, checkDeployable, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { parseAssetPath } from '../../../shared/manifest-assets.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { appDirs } from '../../support/cli-fixtures.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const app = appDirs();
const BASE = `service: demo
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  web:
    - 10.0.0.1
  worker:
    hosts:
      - 10.0.0.1
    cmd: bin/jobs
proxy:
  host: demo.test
`;

const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => assert.fail('no secrets here'), registry: undefined };
const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '127.0.0.1:5000/berth-test/web@sha256:' + '0'.repeat(64), seq: 1, nowSeconds: 1_800_000_000, accessoryImages: {} };

async function pushed(extra: string) {
  const config = (await loadConfig(app({ 'deploy.yml': BASE + extra }))).config;
  const plan = planContainers(config);
  const payload = await buildManifestPayload(config, plan, plan.roles[0]!.hosts[0]!.host, facts, sealing);
  return { plan, payload, features: planFeatures(plan, config) };
}

describe('asset_path', () => {
  it('reaches the proxied role only, with roles.assets.v1 required', async () => {
    const { payload, features } = await pushed('asset_path: /rails/public/assets\n');
    assert.deepEqual(payload.roles.web?.assets, { path: '/rails/public/assets' });
    assert.equal(payload.roles.worker?.assets, undefined, 'Kamal bridges assets only behind its proxy');
    assert.ok(features.includes('roles.assets.v1'));
    parseManifestPayload({ ...minimalManifest(), roles: { web: { proxy: { hosts: ['demo.test'] }, assets: payload.roles.web!.assets } } });
  });

  it('is not required without asset_path', async () => {
    const { payload, features } = await pushed('');
    assert.equal(payload.roles.web?.assets, undefined);
    assert.ok(!features.includes('roles.assets.v1'));
  });

  it('takes Kamal\'s mount options: ro changes nothing (always read-only), z / Z relabel; others are refused', () => {
    assert.deepEqual(parseAssetPath('/app/public/assets/:ro', 'asset_path'), { path: '/app/public/assets' });
    assert.deepEqual(parseAssetPath('/app/assets:ro,Z', 'asset_path'), { path: '/app/assets', selinux: 'Z' });
    assert.throws(() => parseAssetPath('/app/assets:rw', 'asset_path'), (e: unknown) => e instanceof ConfigError && /mount option "rw"/.test(e.message));
    assert.throws(() => parseAssetPath('public/assets', 'asset_path'), ConfigError);
    assert.throws(() => parseAssetPath('/', 'asset_path'), ConfigError);
    assert.throws(() => parseAssetPath('/app/../etc', 'asset_path'), ConfigError);
  });

  it('a bad path fails before any server is contacted', async () => {
    const config = (await loadConfig(app({ 'deploy.yml': BASE + 'asset_path: public/assets\n' }))).config;
    assert.throws(() => checkDeployable(planContainers(config)), (e: unknown) => e instanceof ConfigError && /asset_path/.test(e.message));
  });

  it('the agent refuses assets on a role without proxy', () => {
    assert.throws(() => parseManifestPayload({ ...minimalManifest(), roles: { web: { assets: { path: '/a' } } } }), /roles\.web\.assets.*proxied/);
  });
});
