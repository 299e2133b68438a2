// replicas: in deploy.yml as a user writes it (top level or under x-berth:),
// what `deploy config` shows, and what a push signs and requires of the agent:
// a role with several containers needs roles.replicas.v1; one container sends
// the manifest it always did.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { main } from '../../../cli/main.js';
import { buildManifestPayload, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { FEATURES } from '../../../shared/version.js';
import { appDirs, captureStream, testEnv } from '../../support/cli-fixtures.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const app = appDirs();
// Extra YAML starts at line 17.
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
accessories:
  cache:
    image: redis:7
    host: 10.0.0.1
    port: "6379:6379"
`;

const loaded = (extra: string) => loadConfig(app({ 'deploy.yml': BASE + extra }));

async function configError(extra: string): Promise<string> {
  const err = await loaded(extra).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

const sealing = { seal: async (v: string) => `sealed(${v.length})`, secret: () => assert.fail('no secrets here'), registry: undefined };
const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '127.0.0.1:5000/berth-test/web@sha256:' + '0'.repeat(64), seq: 1, nowSeconds: 1_800_000_000, accessoryImages: { cache: 'redis@sha256:' + '1'.repeat(64) } };

async function pushed(extra: string) {
  const { config } = await loaded(extra);
  const plan = planContainers(config);
  const payload = await buildManifestPayload(config, plan, plan.roles[0]!.hosts[0]!.host, facts, sealing);
  return { config, plan, payload, features: planFeatures(plan, config) };
}

describe('deploy.yml replicas', () => {
  it('reads counts per role at the top level or under x-berth:; 1 is the default and is not kept', async () => {
    assert.deepEqual((await loaded('replicas:\n  web: 3\n  worker: 2\n')).config.replicas, { web: 3, worker: 2 });
    assert.deepEqual((await loaded('x-berth:\n  replicas:\n    web: 3\n')).config.replicas, { web: 3 });
    assert.equal((await loaded('replicas:\n  web: 1\n')).config.replicas, undefined);
    assert.equal((await loaded('')).config.replicas, undefined);
  });

  it('refuses an unknown role, an accessory, a bad count and both places, naming the key and line', async () => {
    assert.equal(await configError('replicas:\n  api: 2\n'), 'replicas/api: there is no role api (roles: web, worker) (deploy.yml:18)');
    assert.equal(
      await configError('replicas:\n  cache: 2\n'),
      'replicas/cache: cache is an accessory: an accessory runs one container (replicas are for roles: web, worker) (deploy.yml:18)',
    );
    assert.equal(await configError('replicas:\n  web: 17\n'), 'replicas/web: should be at most 16 (deploy.yml:18)');
    assert.equal(await configError('replicas:\n  web: 0\n'), 'replicas/web: should be at least 1 (deploy.yml:18)');
    assert.equal(await configError('replicas:\n  web: two\n'), 'replicas/web: should be a number (deploy.yml:18)');
    assert.match(await configError('replicas: 3\n'), /^replicas: should be a map of role name to a number of containers per server/);
    assert.equal(
      await configError('replicas:\n  web: 2\nx-berth:\n  replicas:\n    web: 3\n'),
      'x-berth/replicas: is also set at the top level (replicas); keep one of replicas and x-berth/replicas (deploy.yml:20)',
    );
  });

  it('signs replicas into the role and requires roles.replicas.v1 only when a role has more than one', async () => {
    const three = await pushed('replicas:\n  web: 3\n');
    assert.equal(three.payload.roles.web?.replicas, 3);
    assert.equal(three.payload.roles.worker?.replicas, undefined);
    assert.deepEqual(three.features.filter((f) => f !== 'accessories.v1'), ['roles.replicas.v1']);
    assert.ok(FEATURES.includes('roles.replicas.v1'), 'the agent advertises it');
    const signed = parseManifestPayload(minimalManifest({ roles: { web: { replicas: 3 } } }));
    assert.equal(signed.roles.web?.replicas, 3, 'the agent reads it');

    const one = await pushed('replicas:\n  web: 1\n');
    assert.equal('replicas' in (one.payload.roles.web ?? {}), false, 'one container: the manifest older agents accept');
    assert.equal(one.features.includes('roles.replicas.v1'), false);
  });

  it('the agent refuses a count beyond the bound', () => {
    assert.throws(() => parseManifestPayload(minimalManifest({ roles: { web: { replicas: 17 } } })), /replicas/);
    assert.throws(() => parseManifestPayload(minimalManifest({ roles: { web: { replicas: 0 } } })), /replicas/);
  });

  it('deploy config shows the counts', async () => {
    const cwd = app({ 'deploy.yml': BASE + 'x-berth:\n  replicas:\n    web: 3\n' });
    const stdout = captureStream();
    const stderr = captureStream();
    const code = await main({ argv: ['config', '--json'], env: testEnv(cwd), stdout: stdout.stream, stderr: stderr.stream });
    assert.equal(code, 0, stderr.text());
    const view = JSON.parse(stdout.text()) as { replicas?: unknown; roles: Array<{ role: string; replicas?: number }> };
    assert.deepEqual(view.replicas, { web: 3 });
    assert.equal(view.roles.find((r) => r.role === 'web')?.replicas, 3);
    assert.equal(view.roles.find((r) => r.role === 'worker')?.replicas, undefined);
  });
});
