// Keys of the newest Kamal release Berth reads (KAMAL_COMPAT_VERSION): each is
// applied (its effect shows in `deploy config`'s view or the plan) or accepted
// with a warning that names it, says it is not in force, and gives its line.
// Also env names with dots, and every config problem listed at once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, type LoadedConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { KAMAL_COMPAT_VERSION } from '../../../cli/config/schema.js';
import { configView } from '../../../cli/config/view.js';
import { planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { FEATURES } from '../../../shared/version.js';
import { minimalManifest } from '../../support/manifest-fixture.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();

// Extras start on line 9.
const BASE = `service: demo
image: acme/demo:latest
servers:
  web:
    hosts:
      - 10.0.0.1
proxy:
  host: demo.example.com
`;

const load = (extra: string, base = BASE): Promise<LoadedConfig> => loadConfig(app({ 'config/deploy.yml': base + extra }));
async function bad(extra: string, base = BASE): Promise<string> {
  const err = await load(extra, base).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

describe(`Kamal ${KAMAL_COMPAT_VERSION} keys`, () => {
  it('reads Kamal 2.12.0 configurations: minimum_version up to it passes, above it is refused', async () => {
    assert.equal(KAMAL_COMPAT_VERSION, '2.12.0');
    assert.equal((await load('minimum_version: 2.12.0\n')).config.minimum_version, '2.12.0');
    assert.equal((await load('minimum_version: "2.10"\n')).config.minimum_version, '2.10');
    assert.equal(await bad('minimum_version: 2.12.1\n'), 'minimum_version: requires Kamal 2.12.1; Berth reads configurations of Kamal 2.12.0 (config/deploy.yml:9)');
  });

  it('boot/parallel_roles (2.10) is accepted with a warning, either value; limit and wait still apply', async () => {
    for (const value of [true, false]) {
      const { config, warnings } = await load(`boot:\n  limit: 2\n  wait: 5\n  parallel_roles: ${value}\n`);
      assert.deepEqual(config.boot, { limit: 2, wait: 5 });
      assert.deepEqual(warnings, [
        "warning: boot/parallel_roles: not in force: Berth's agent boots all roles of a host as one release whatever this says (their new containers start together, health checks pass role by role, routes switch together) (config/deploy.yml:12)",
      ]);
    }
    assert.equal(await bad('boot:\n  parallel_roles: yes please\n'), 'boot/parallel_roles: should be a boolean (config/deploy.yml:10)');
    assert.equal(await bad('boot:\n  parallel: true\n'), 'boot/parallel: unknown key (config/deploy.yml:10)');
  });

  it('servers/ROLE/stop_timeout (2.12) is accepted with a warning; the top-level stop_timeout is what applies', async () => {
    const { config, warnings } = await load('stop_timeout: 20\n', BASE.replace('    hosts:', '    stop_timeout: 45\n    hosts:'));
    assert.equal(config.stop_timeout, 20);
    assert.deepEqual(warnings, ['warning: servers/web/stop_timeout: not in force: the agent gives every role the top-level stop_timeout; set it there (config/deploy.yml:5)']);
    assert.equal(await bad('', BASE.replace('    hosts:', '    stop_timeout: soon\n    hosts:')), 'servers/web/stop_timeout: should be a number (config/deploy.yml:5)');
  });

  it('proxy/path_prefixes (2.8) is applied: the role routes those prefixes', async () => {
    const { config, warnings } = await load('  path_prefixes:\n    - /api\n    - /oauth_callback\n  strip_path_prefix: false\n');
    assert.deepEqual(warnings, []);
    const [web] = planContainers(config).roles;
    assert.deepEqual(web?.proxy?.path_prefixes, ['/api', '/oauth_callback']);
    assert.equal(web?.proxy?.strip_path_prefix, false);
  });

  it('proxy/path_prefix beside path_prefixes loads as in Kamal: path_prefixes is read, path_prefix warned about', async () => {
    const { config, warnings } = await load('  path_prefix: /old\n  path_prefixes: [/api]\n');
    assert.deepEqual(planContainers(config).roles[0]?.proxy?.path_prefixes, ['/api']);
    assert.deepEqual(warnings, ['warning: proxy/path_prefix: not in force: path_prefixes is also set, and is what is read (as in Kamal) (config/deploy.yml:9)']);
  });

  it("proxy/run (kamal-proxy's own boot settings) is accepted with a warning: Berth's router is the agent's", async () => {
    const { warnings } = await load('  run:\n    http_port: 8080\n    https_port: 8443\n    publish: false\n    version: v0.9.2\n    options:\n      memory: 512m\n');
    assert.deepEqual(warnings, [
      "warning: proxy/run: ignored: kamal-proxy's boot settings do not apply; Berth's router is configured on the agent (berth-agent router) (config/deploy.yml:9)",
    ]);
  });

  it('a local registry (localhost:PORT, 2.8) defaults the image to the service and warns that Kamal\'s SSH tunnel is not in force', async () => {
    const { config, warnings } = await load('registry:\n  server: localhost:5555\n', BASE.replace('image: acme/demo:latest\n', ''));
    assert.equal(config.image, 'localhost:5555/demo');
    assert.deepEqual(warnings, [
      "warning: registry/server: is Kamal's local registry, which is not in force: Kamal runs it on the deploying machine and tunnels it to servers over SSH, but Berth's agents pull over their own network, so each server needs a registry at localhost:5555 itself (or push to a registry the servers reach) (config/deploy.yml:9)",
    ]);
    // The control: without a local registry the image is still required.
    assert.equal(await bad('registry:\n  server: ghcr.io\n', BASE.replace('image: acme/demo:latest\n', '')), 'image: is required (config/deploy.yml)');
  });

  it('output (2.11), hooks_output and ssh forward_agent load, each warned about once', async () => {
    const { warnings } = await load('output:\n  otel:\n    endpoint: http://otel:4318\nhooks_output: :verbose\nssh:\n  forward_agent: true\n');
    assert.deepEqual(warnings.map((w) => w.replace(/: ignored: .*\(/, ': ignored (')), [
      'warning: output: ignored (config/deploy.yml:9)',
      'warning: hooks_output: ignored (config/deploy.yml:12)',
      'warning: ssh: ignored (config/deploy.yml:13)',
    ]);
  });
});

describe('env names with dots', () => {
  it('are accepted under env, env/clear, env/secret, role env and accessory env, and reach the plan', async () => {
    const { config } = await load(`env:
  clear:
    discovery.type: single-node
    plugins.security.disabled: true
  secret:
    - opensearch.password:OPENSEARCH_PASSWORD
    - cluster.token
accessories:
  search:
    image: opensearchproject/opensearch:2
    host: 10.0.0.2
    env:
      bootstrap.memory_lock: true
`);
    const [web] = planContainers(config).roles;
    assert.deepEqual(web?.env.clear, { 'discovery.type': 'single-node', 'plugins.security.disabled': 'true' });
    assert.deepEqual(web?.env.secretNames, { 'opensearch.password': 'OPENSEARCH_PASSWORD', 'cluster.token': 'cluster.token' });
    const plan = planContainers(config);
    assert.deepEqual(plan.accessories[0]?.env.clear, { 'bootstrap.memory_lock': 'true' });
    // Older agents refuse such names, so a release with them asks for the feature.
    assert.ok(planFeatures(plan, config).includes('env.names.v1'));
    assert.ok(FEATURES.includes('env.names.v1'));
    assert.ok(!planFeatures(planContainers((await load('env:\n  A_B: x\n')).config), config).includes('env.names.v1'));
  });

  it('a variable name may hold a dash (as Alloy\'s server.http.listen-addr does); a secret name in .kamal/secrets may not', async () => {
    const { config } = await load('env:\n  clear:\n    server.http.listen-addr: 0.0.0.0:12345\n  secret:\n    - DB-PASSWORD:DB_PASSWORD\n');
    const plan = planContainers(config);
    assert.deepEqual(plan.roles[0]?.env.clear, { 'server.http.listen-addr': '0.0.0.0:12345' });
    assert.deepEqual(plan.roles[0]?.env.secretNames, { 'DB-PASSWORD': 'DB_PASSWORD' });
    assert.ok(planFeatures(plan, config).includes('env.names.v1'));
    // A .kamal/secrets line cannot define DB-PASSWORD, so Kamal could not find it either.
    assert.equal(await bad('env:\n  secret:\n    - DB-PASSWORD\n'), 'env/secret/0: should be NAME or NAME:SECRET_NAME (letters, digits, _ and .; a variable name may also hold -) (config/deploy.yml:11)');
    assert.equal(await bad('env:\n  secret:\n    - DB_PASSWORD:DB-PASSWORD\n'), 'env/secret/0: should be NAME or NAME:SECRET_NAME (letters, digits, _ and .; a variable name may also hold -) (config/deploy.yml:11)');
    const m = parseManifestPayload(minimalManifest({ roles: { web: { env: { clear: { 'server.http.listen-addr': '0.0.0.0:12345' } } } } }));
    assert.deepEqual(m.roles.web?.env.clear, { 'server.http.listen-addr': '0.0.0.0:12345' });
  });

  it('names with =, blanks, line breaks, a leading dot or digit, or empty are still refused', async () => {
    assert.equal(await bad('env:\n  a=b: x\n'), 'env/a=b: is not a valid variable name (letters, digits, _, . and -, starting with a letter or _) (config/deploy.yml:10)');
    assert.equal(await bad('env:\n  "a b": x\n'), 'env/a b: is not a valid variable name (letters, digits, _, . and -, starting with a letter or _) (config/deploy.yml:10)');
    assert.match(await bad('env:\n  "a\\nb": x\n'), /^env\/a b: is not a valid variable name/);
    assert.match(await bad('env:\n  .hidden: x\n'), /^env\/\.hidden: is not a valid variable name/);
    assert.match(await bad('env:\n  1X: x\n'), /^env\/1X: is not a valid variable name/);
    assert.match(await bad('env:\n  "": x\n'), /^env\/: is not a valid variable name/);
    assert.equal(await bad('env:\n  secret:\n    - a=b\n'), 'env/secret/0: should be NAME or NAME:SECRET_NAME (letters, digits, _ and .; a variable name may also hold -) (config/deploy.yml:11)');
  });

  it('the manifest schema (what the agent checks) accepts dotted names and refuses the rest', () => {
    const sealed = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
    const m = parseManifestPayload(minimalManifest({ roles: { web: { env: { clear: { 'discovery.type': 'single-node' }, secret: { 'opensearch.password': sealed } } } } }));
    assert.deepEqual(m.roles.web?.env.clear, { 'discovery.type': 'single-node' });
    assert.deepEqual(Object.keys(m.roles.web?.env.secret ?? {}), ['opensearch.password']);
    for (const name of ['a=b', '', 'a\nb', 'a\0b', 'a b', '.x', '9x', '-x']) {
      assert.throws(() => parseManifestPayload(minimalManifest({ roles: { web: { env: { clear: { [name]: 'x' } } } } })), /env\.clear\.[\s\S]*invalid key/, JSON.stringify(name));
    }
  });
});

describe('config errors', () => {
  it('lists all of them, one per line in file order, the count first', async () => {
    const extra = Array.from({ length: 10 }, (_, i) => `bad_key_${i}: 1\n`).join('');
    const message = await bad(extra);
    const lines = message.split('\n');
    assert.equal(lines[0], '10 problems in config/deploy.yml:');
    assert.deepEqual(lines.slice(1), Array.from({ length: 10 }, (_, i) => `  bad_key_${i}: unknown key (config/deploy.yml:${9 + i})`));
  });

  it('past 200, the rest are counted', async () => {
    const extra = Array.from({ length: 205 }, (_, i) => `k${i}: 1\n`).join('');
    const lines = (await bad(extra)).split('\n');
    assert.equal(lines[0], '205 problems in config/deploy.yml:');
    assert.equal(lines.length, 1 + 200 + 1);
    assert.equal(lines.at(-1), '  and 5 more');
  });

  it('deploy config names the Kamal version it reads', async () => {
    const { config, files } = await load('');
    assert.equal(configView(config, files).kamal_version, '2.12.0');
  });
});
