// An accessory's proxy: read like a role's, shown by `deploy config`, carried
// in the manifest of the host it runs on with feature accessories.proxy.v1,
// and refused (naming the key) where the router could not route it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { configView } from '../../../cli/config/view.js';
import { buildManifestPayload, checkDeployable, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: `acme/demo@${DIGEST}`, seq: 1, nowSeconds: 1_800_000_000, accessoryImages: { admin: `adminer@${DIGEST}` } };
const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => 'x', registry: undefined };

const config = (accessory: string, servers = '  web:\n    - 10.0.0.1\n') => `service: demo
image: acme/demo:latest
servers:
${servers}proxy:
  host: demo.example.com
accessories:
  admin:
    image: adminer:4
    host: 10.0.0.1
${accessory}`;

const load = (yml: string) => loadConfig(app({ 'config/deploy.yml': yml }));
async function refused(yml: string): Promise<string> {
  // Refused when the config loads (a key's value) or when a push checks the plan (claims across roles).
  const err = await load(yml).then(({ config: c }) => checkDeployable(planContainers(c))).catch((e: unknown) => e);
  assert.ok(err instanceof ConfigError, `expected a config error, got ${JSON.stringify(err)}`);
  return err.message;
}

describe('accessory proxy', () => {
  it('is read with the role defaults, shown by deploy config, and carried to the host it runs on', async () => {
    const { config: c, warnings } = await load(config('    proxy:\n      host: Admin.Example.com\n      app_port: 8080\n      ssl: true\n      healthcheck:\n        path: /status\n'));
    assert.deepEqual(warnings, []);
    const view = configView(c, []) as { accessories: Array<{ proxy: unknown }> };
    assert.deepEqual(view.accessories[0]?.proxy, {
      hosts: ['admin.example.com'], app_port: 8080, ssl: true, healthcheck: { path: '/status', interval: 1, timeout: 5 }, response_timeout: 30,
    });
    const plan = planContainers(c);
    assert.ok(planFeatures(plan, c).includes('accessories.proxy.v1'));
    const m = parseManifestPayload(await buildManifestPayload(c, plan, '10.0.0.1:7443', facts, sealing));
    assert.deepEqual(m.accessories?.admin?.proxy, { hosts: ['admin.example.com'], app_port: 8080, ssl: true, healthcheck: { path: '/status', interval: 1, timeout: 5 } });
  });

  it('an accessory without proxy (or proxy: false) needs no feature', async () => {
    for (const extra of ['', '    proxy: false\n']) {
      const { config: c } = await load(config(extra));
      assert.equal(planContainers(c).accessories[0]?.proxy, undefined);
      assert.ok(!planFeatures(planContainers(c), c).includes('accessories.proxy.v1'));
    }
  });

  it('refuses, naming the key: a bad app_port, no host, a given certificate, a host a role routes, the name of a role', async () => {
    assert.match(await refused(config('    proxy:\n      host: admin.example.com\n      app_port: 70000\n')), /^accessories\/admin\/proxy\/app_port: /);
    assert.match(await refused(config('    proxy:\n      app_port: 8080\n')), /^accessories\/admin\/proxy\/host: is required: the router routes an accessory by host name/);
    assert.match(await refused(config('    proxy:\n      host: admin.example.com\n      ssl:\n        certificate_pem: CERT\n        private_key_pem: KEY\n')), /^accessories\/admin\/proxy\/ssl: a given certificate is not supported for accessories/);
    assert.equal(
      await refused(config('    proxy:\n      host: demo.example.com\n')),
      'accessories/admin/proxy/host: demo.example.com under path prefix / is routed by both role web and accessory admin on 10.0.0.1:7443',
    );
    assert.match(
      await refused(config('    proxy:\n      host: admin.example.com\n', '  web:\n    - 10.0.0.1\n  admin:\n    hosts:\n      - 10.0.0.1\n    proxy:\n      host: other.example.com\n')),
      /^accessories\/admin\/proxy: a routed accessory cannot share its name with role admin/,
    );
  });

  it('the agent refuses a manifest whose routed accessory shares a role\'s name', async () => {
    const { config: c } = await load(config('    proxy:\n      host: admin.example.com\n'));
    const m = await buildManifestPayload(c, planContainers(c), '10.0.0.1:7443', facts, sealing);
    const bad = { ...m, accessories: { web: m.accessories!.admin! } };
    assert.throws(() => parseManifestPayload(bad), /accessories\.web\.proxy: a routed accessory cannot share its name with role web/);
  });
});
