// Which host's manifest carries which cron job (hosts: one → the role's first
// host in servers: order; all → each host of the role), and the notify hook
// sealed per agent, from real deploy.yml text through the real loader.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { buildManifestPayload, cronJobHosts, planFeatures } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { manifestPayloadSchema } from '../../../shared/manifest.js';
import type { SealBinding } from '../../../shared/sealing.js';
import { tempDir } from '../../support/cli-fixtures.js';

const BASE = `service: shop
image: 127.0.0.1:5000/shop:v1
servers:
  web:
    - 10.0.0.3
    - 10.0.0.1
    - 10.0.0.2
  worker:
    hosts:
      - 10.0.0.9
    cmd: bin/jobs
proxy:
  host: shop.example.com
cron:
  nightly:
    schedule: "0 3 * * *"
    command: bin/rails reports:send
  sweep:
    schedule: "*/10 * * * *"
    command: [bin/sweep, --fast]
    hosts: all
    retries: 2
`;

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

const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: '127.0.0.1:5000/shop@sha256:' + '0'.repeat(64), seq: 1, nowSeconds: 1_800_000_000 };
const SECRETS: Record<string, string> = { HOOK_URL: 'https://hooks.example.com/t0ken', HOOK_KEY: 'hmac-key' };

function recordingSealer(secrets = SECRETS) {
  const sealed: Array<{ value: string; binding: SealBinding }> = [];
  return {
    sealed,
    seal: async (value: string, binding: SealBinding) => {
      sealed.push({ value, binding });
      // JWE compact shape, so the manifest schema accepts it.
      return `e30..${'A'.repeat(16)}.${Buffer.from(String(sealed.length)).toString('base64url')}.${'B'.repeat(22)}`;
    },
    secret: (name: string) => secrets[name] ?? assert.fail(`unexpected secret ${name}`),
    registry: undefined,
  };
}

const host = (h: string) => `${h}:7443`;

describe('cron jobs per host', () => {
  it('hosts: one goes to the role\'s first host in servers: order, all to each of its 3 hosts, none to a host without the role', async () => {
    const { config, plan } = await planOf(BASE);
    assert.deepEqual(cronJobHosts(config, plan, 'nightly'), [host('10.0.0.3')]);
    assert.deepEqual(cronJobHosts(config, plan, 'sweep'), ['10.0.0.3', '10.0.0.1', '10.0.0.2'].map(host));
    const jobsOn = async (h: string) => {
      const payload = await buildManifestPayload(config, plan, host(h), facts, recordingSealer());
      manifestPayloadSchema.parse(payload);
      return payload.cron;
    };
    const first = await jobsOn('10.0.0.3');
    assert.deepEqual(Object.keys(first ?? {}), ['nightly', 'sweep']);
    assert.deepEqual(first?.nightly, { schedule: '0 3 * * *', timezone: 'UTC', command: ['bin/rails', 'reports:send'], role: 'web', timeout: 3600, concurrency: 'forbid', retries: 0, retry_backoff: 10, hosts: 'one' });
    assert.deepEqual(first?.sweep, { schedule: '*/10 * * * *', timezone: 'UTC', command: ['bin/sweep', '--fast'], role: 'web', timeout: 600, concurrency: 'forbid', retries: 2, retry_backoff: 10, hosts: 'all' });
    assert.deepEqual(Object.keys((await jobsOn('10.0.0.1')) ?? {}), ['sweep']);
    assert.deepEqual(Object.keys((await jobsOn('10.0.0.2')) ?? {}), ['sweep']);
    assert.equal(await jobsOn('10.0.0.9'), undefined, 'the worker host runs no web job');
  });

  it('a job of another role lands on that role\'s host only', async () => {
    const { config, plan } = await planOf(BASE.replace('    hosts: all\n', '    hosts: all\n    role: worker\n'));
    const worker = await buildManifestPayload(config, plan, host('10.0.0.9'), facts, recordingSealer());
    assert.deepEqual(Object.keys(worker.cron ?? {}), ['sweep']);
    assert.equal(worker.cron?.sweep?.role, 'worker');
    const web = await buildManifestPayload(config, plan, host('10.0.0.1'), facts, recordingSealer());
    assert.equal(web.cron, undefined);
  });

  it('needs cron.v1 only when the config has jobs', async () => {
    const { config, plan } = await planOf(BASE);
    assert.ok(planFeatures(plan, config).includes('cron.v1'));
    const plain = await planOf(BASE.slice(0, BASE.indexOf('cron:')));
    assert.ok(!planFeatures(plain.plan, plain.config).includes('cron.v1'));
  });
});

describe('notify in the manifest', () => {
  const withNotify = `${BASE}notify:\n  url: HOOK_URL\n  secret: HOOK_KEY\n  timeout: 3\n`;

  it('seals the URL (read from its secret) and the HMAC key to the agent, each for its one use', async () => {
    const { config, plan } = await planOf(withNotify);
    const sealer = recordingSealer();
    const payload = await buildManifestPayload(config, plan, host('10.0.0.1'), facts, sealer);
    manifestPayloadSchema.parse(payload);
    assert.equal(payload.notify?.timeout, 3);
    const where = { service: 'shop', destination: '' };
    assert.deepEqual(sealer.sealed, [
      { value: 'https://hooks.example.com/t0ken', binding: { use: 'notify-url', ...where } },
      { value: 'hmac-key', binding: { use: 'notify-secret', ...where } },
    ]);
    assert.ok(!JSON.stringify(payload).includes('t0ken') && !JSON.stringify(payload).includes('hmac-key'));
  });

  it('seals a literal URL too, omits secret when none is named, and goes only to hosts with jobs', async () => {
    const { config, plan } = await planOf(`${BASE}notify: https://hooks.example.com/literal\n`);
    const sealer = recordingSealer();
    const payload = await buildManifestPayload(config, plan, host('10.0.0.2'), facts, sealer);
    assert.deepEqual(sealer.sealed, [{ value: 'https://hooks.example.com/literal', binding: { use: 'notify-url', service: 'shop', destination: '' } }]);
    assert.equal(payload.notify?.secret, undefined);
    const idle = recordingSealer();
    assert.equal((await buildManifestPayload(config, plan, host('10.0.0.9'), facts, idle)).notify, undefined);
    assert.deepEqual(idle.sealed, []);
  });

  it('refuses a secret that holds no http(s) URL, without showing its value', async () => {
    const { config, plan } = await planOf(withNotify);
    await assert.rejects(
      buildManifestPayload(config, plan, host('10.0.0.1'), facts, recordingSealer({ HOOK_URL: 'not a url at all', HOOK_KEY: 'k' })),
      (e: unknown) => e instanceof ConfigError && e.message === 'notify/url: the value of secret HOOK_URL is not a URL' && !e.message.includes('not a url at all'),
    );
  });
});
