// What a push sends per host, and what it refuses or warns about before any
// server is contacted, from real deploy.yml text through the real loader.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { buildManifestPayload, checkDeployable, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { tempDir } from '../../support/cli-fixtures.js';

async function planOf(yml: string) {
  const dir = tempDir();
  try {
    writeFileSync(join(dir.path, 'deploy.yml'), yml);
    const { config } = await loadConfig(dir.path);
    return { config, plan: planContainers(config) };
  } finally {
    dir.cleanup();
  }
}

/** The host of a role as servers: wrote it (formatted with its agent port). */
function hostOf(plan: Awaited<ReturnType<typeof planOf>>['plan'], role: string): string {
  return plan.roles.find((r) => r.role === role)!.hosts[0]!.host;
}

const BASE = `service: shop
image: 127.0.0.1:5000/shop:v1
servers:
  web:
    - 10.0.0.1
  worker:
    hosts:
      - 10.0.0.2
    cmd: bin/jobs
proxy:
  host: shop.example.com
env:
  clear:
    A: "1"
  secret:
    - DB_PASSWORD
`;

const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '127.0.0.1:5000/shop@sha256:' + '0'.repeat(64), seq: 1, nowSeconds: 1_800_000_000 };

describe('manifest per host', () => {
  it('carries only the roles that host runs, with secrets sealed by the given sealer', async () => {
    const { config, plan } = await planOf(BASE);
    assert.deepEqual(checkDeployable(plan), []);
    const sealed: string[] = [];
    const sealing = {
      seal: async (v: string) => {
        sealed.push(v);
        return `sealed(${v.length})`;
      },
      secret: (name: string) => (name === 'DB_PASSWORD' ? 'hunter2' : assert.fail(`unexpected secret ${name}`)),
      registry: undefined,
    };
    const web = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
    assert.deepEqual(Object.keys(web.roles), ['web']);
    assert.deepEqual(web.roles.web?.env, { clear: { A: '1' }, secret: { DB_PASSWORD: 'sealed(7)' } });
    assert.equal(web.roles.web?.proxy?.hosts[0], 'shop.example.com');
    const worker = await buildManifestPayload(config, plan, hostOf(plan, 'worker'), facts, sealing);
    assert.deepEqual(Object.keys(worker.roles), ['worker']);
    assert.deepEqual(worker.roles.worker?.cmd, ['bin/jobs']);
    assert.equal(worker.roles.worker?.proxy, undefined, 'a non-primary role is not proxied');
    assert.deepEqual(sealed, ['hunter2', 'hunter2']);
    assert.ok(!JSON.stringify([web, worker]).includes('hunter2'), 'no clear secret in a manifest');
  });
});

describe('proxy settings the router applies whole', () => {
  it('ssl and buffering deploy without a warning', async () => {
    for (const lines of ['  ssl: true\n  buffering:\n    max_request_body: 1000', '  buffering:\n    requests: true\n    responses: true\n    memory: 2000000']) {
      const { plan } = await planOf(BASE.replace('  host: shop.example.com', `  host: shop.example.com\n${lines}`));
      assert.deepEqual(checkDeployable(plan), [], lines);
    }
  });

  it('buffering with requests and responses off deploys without a warning', async () => {
    const { plan } = await planOf(BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  buffering:\n    requests: false\n    responses: false\n    max_request_body: 1000'));
    assert.deepEqual(checkDeployable(plan), []);
  });
});

describe('proxy/path_prefix, buffering limits and logging', () => {
  const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => 'x', registry: undefined };
  const withProxy = (lines: string) => BASE.replace('  host: shop.example.com', `  host: shop.example.com\n${lines}`);

  it('path_prefix is sent with strip_path_prefix (Kamal strips by default) and needs proxy.paths.v1', async () => {
    for (const [lines, prefixes, strip] of [
      ['  path_prefix: /api', ['/api'], true],
      ['  path_prefix: /api,/oauth_callback', ['/api', '/oauth_callback'], true],
      ['  path_prefixes:\n    - /api\n    - /v2/\n  strip_path_prefix: false', ['/api', '/v2/'], false],
    ] as const) {
      const { config, plan } = await planOf(withProxy(lines));
      assert.deepEqual(checkDeployable(plan), [], lines);
      const web = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
      assert.deepEqual(web.roles.web?.proxy?.path_prefixes, prefixes, lines);
      assert.equal(web.roles.web?.proxy?.strip_path_prefix, strip, lines);
      assert.deepEqual(planFeatures(plan, config), ['proxy.paths.v1'], lines);
    }
  });

  it('a path_prefix that is no path is a config error naming the key', async () => {
    await assert.rejects(planOf(withProxy('  path_prefix: /api,oauth')), /proxy\/path_prefix: "oauth" should be a URL path/);
    // Both set: Kamal reads path_prefixes (config-kamal-keys.test.ts checks the warning), so that is what is sent.
    const both = await planOf(withProxy('  path_prefix: /api\n  path_prefixes: [/v2]'));
    assert.deepEqual((await buildManifestPayload(both.config, both.plan, hostOf(both.plan, 'web'), facts, sealing)).roles.web?.proxy?.path_prefixes, ['/v2']);
  });

  it('body limits and log headers are sent with their features; 0 limits send nothing', async () => {
    const { config, plan } = await planOf(
      withProxy('  buffering:\n    max_request_body: 1000\n    max_response_body: 0\n  logging:\n    request_headers: [User-Agent]\n    response_headers: [Content-Type]'),
    );
    const web = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
    assert.deepEqual(web.roles.web?.proxy?.buffering, { max_request_body: 1000 });
    assert.deepEqual(web.roles.web?.proxy?.logging, { request_headers: ['User-Agent'], response_headers: ['Content-Type'] });
    assert.deepEqual(planFeatures(plan, config), ['proxy.buffering.v1', 'proxy.logging.v1']);
    const none = await planOf(withProxy('  buffering:\n    max_request_body: 0'));
    const payload = await buildManifestPayload(none.config, none.plan, hostOf(none.plan, 'web'), facts, sealing);
    assert.equal(payload.roles.web?.proxy?.buffering, undefined);
    assert.deepEqual(planFeatures(none.plan, none.config), []);
  });

  it("whole-body buffering travels only where it differs from Kamal's defaults (both ways, 1 MiB), with proxy.buffer.v1", async () => {
    for (const [lines, buffering, features] of [
      ['', undefined, []],
      ['  buffering:\n    requests: true\n    responses: true', undefined, []],
      ['  buffering:\n    requests: false', { requests: false }, ['proxy.buffer.v1']],
      ['  buffering:\n    responses: false\n    memory: 0', { responses: false, memory: 0 }, ['proxy.buffer.v1']],
      ['  buffering:\n    memory: 2000000\n    max_request_body: 40000000', { max_request_body: 40_000_000, memory: 2_000_000 }, ['proxy.buffering.v1', 'proxy.buffer.v1']],
    ] as const) {
      const { config, plan } = await planOf(withProxy(lines));
      const web = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
      assert.deepEqual(web.roles.web?.proxy?.buffering, buffering, lines);
      assert.deepEqual(planFeatures(plan, config), features, lines);
    }
  });

  it('a buffering memory over 1 GiB is a config error naming the key', async () => {
    await assert.rejects(planOf(withProxy('  buffering:\n    memory: 2000000000')), /proxy\/buffering\/memory/);
  });

  it('two roles on one server routing the same host and prefix are refused, naming both; different prefixes deploy', async () => {
    const twoRoles = (apiPrefix: string) => `service: shop
image: 127.0.0.1:5000/shop:v1
servers:
  web:
    hosts: [10.0.0.1]
    proxy:
      host: shop.example.com
  api:
    hosts: [10.0.0.1]
    proxy:
      host: shop.example.com
${apiPrefix}
`;
    const clash = await planOf(twoRoles(''));
    assert.throws(() => checkDeployable(clash.plan), (e: unknown) => e instanceof ConfigError && /roles (web and api|api and web) both route host shop\.example\.com under path prefix \/ on 10\.0\.0\.1/.test(e.message));
    const samePrefix = await planOf(twoRoles('      path_prefix: /api').replace('      host: shop.example.com\n  api', '      host: shop.example.com\n      path_prefix: /api/\n  api'));
    assert.throws(() => checkDeployable(samePrefix.plan), /both route host shop\.example\.com under path prefix \/api/);
    const apart = await planOf(twoRoles('      path_prefix: /api'));
    assert.deepEqual(checkDeployable(apart.plan), []);
  });
});

describe('proxy/ssl', () => {
  const sealed: Array<[string, string]> = [];
  const sealing = {
    seal: async (v: string, b: { use: string }) => (sealed.push([b.use, v]), `sealed.${b.use}`),
    secret: (name: string) => `value of ${name}`,
    registry: undefined,
  };

  it('true and ssl_redirect reach the agent and need proxy.tls.v1', async () => {
    const p = await planOf(BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  ssl: true\n  ssl_redirect: false'));
    const web = await buildManifestPayload(p.config, p.plan, hostOf(p.plan, 'web'), facts, sealing);
    assert.equal(web.roles.web?.proxy?.ssl, true);
    assert.equal(web.roles.web?.proxy?.ssl_redirect, false);
    assert.ok(planFeatures(p.plan, p.config).includes('proxy.tls.v1'));
    const plain = await planOf(BASE);
    assert.ok(!planFeatures(plain.plan, plain.config).includes('proxy.tls.v1'));
  });

  it('a certificate given as secrets is sealed for the role, certificate and key each for its own use', async () => {
    const p = await planOf(BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  ssl:\n    certificate_pem: CERT_PEM\n    private_key_pem: KEY_PEM'));
    const web = await buildManifestPayload(p.config, p.plan, hostOf(p.plan, 'web'), facts, sealing);
    assert.deepEqual(web.roles.web?.proxy?.ssl, { certificate_pem: 'sealed.tls-certificate', private_key_pem: 'sealed.tls-key' });
    assert.deepEqual(sealed.filter(([use]) => use.startsWith('tls-')), [['tls-certificate', 'value of CERT_PEM'], ['tls-key', 'value of KEY_PEM']]);
  });

  it('automatic certificates for a wildcard host are refused before any server is asked', async () => {
    const { plan } = await planOf(BASE.replace('  host: shop.example.com', '  host: "*.shop.example.com"\n  ssl: true'));
    assert.throws(() => checkDeployable(plan), (e: unknown) => e instanceof ConfigError && /wildcard host \*\.shop\.example\.com/.test(e.message));
  });
});

describe('proxy/forward_headers', () => {
  const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => 'x', registry: undefined };

  it('true is sent to the agent and needs its feature; false and absent send nothing', async () => {
    const trusting = await planOf(BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  forward_headers: true'));
    const web = await buildManifestPayload(trusting.config, trusting.plan, hostOf(trusting.plan, 'web'), facts, sealing);
    assert.equal(web.roles.web?.proxy?.forward_headers, true);
    assert.deepEqual(planFeatures(trusting.plan, trusting.config), ['proxy.forward_headers.v1']);
    for (const yml of [BASE, BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  forward_headers: false')]) {
      const { config, plan } = await planOf(yml);
      const payload = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
      assert.equal(payload.roles.web?.proxy && 'forward_headers' in payload.roles.web.proxy, false);
      assert.deepEqual(planFeatures(plan, config), []);
    }
  });

  it('a role may set it over the top-level proxy', async () => {
    const yml = BASE.replace('  web:\n    - 10.0.0.1', '  web:\n    hosts:\n      - 10.0.0.1\n    proxy:\n      forward_headers: true');
    const { config, plan } = await planOf(yml);
    const web = await buildManifestPayload(config, plan, hostOf(plan, 'web'), facts, sealing);
    assert.equal(web.roles.web?.proxy?.forward_headers, true);
  });

  it('anything but a boolean is a config error naming the key', async () => {
    await assert.rejects(planOf(BASE.replace('  host: shop.example.com', '  host: shop.example.com\n  forward_headers: "yes"')), /proxy\/forward_headers/);
  });
});
