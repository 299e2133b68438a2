// The bake key of deploy.yml as a user meets it: validation with file:line,
// `deploy config`, the manifest field, and `deploy push` refusing an agent that
// does not know bake windows (nothing sent) or saying what the agent will do.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { main } from '../../../cli/main.js';
import { buildManifestPayload } from '../../../cli/manifest-builder.js';
import { ConfigError } from '../../../shared/errors.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { appDirs, captureStream, featurePushFixture, testEnv, type FakeAgent } from '../../support/cli-fixtures.js';

const app = appDirs();
const DIGEST = `sha256:${'cd'.repeat(32)}`;
const base = (servers = '  - 10.0.0.1') => `service: demo
image: 127.0.0.1:5000/berth-test/web@${DIGEST}
servers:
${servers}
proxy:
  host: demo.test
`;

async function configError(yaml: string): Promise<string> {
  const err = await loadConfig(app({ 'deploy.yml': yaml })).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

async function run(cwd: string, argv: string[], xdg?: string) {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env: testEnv(cwd, xdg ? { xdgConfigHome: xdg } : {}), stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('deploy.yml bake', () => {
  it('is optional; when set it goes into every manifest as bake', async () => {
    const without = await loadConfig(app({ 'deploy.yml': base() }));
    assert.equal(without.config.bake, undefined);
    const { config } = await loadConfig(app({ 'deploy.yml': base() + 'bake: 15\n' }));
    assert.equal(config.bake, 15);
    const facts = { kid: 'k'.repeat(43), agentId: 'a'.repeat(43), version: 'r1', image: `127.0.0.1:5000/berth-test/web@${DIGEST}`, seq: 1, nowSeconds: 1_800_000_000 };
    const sealing = { seal: async (s: string) => s, secret: () => '', registry: undefined };
    const plan = planContainers(config);
    const payload = await buildManifestPayload(config, plan, '10.0.0.1:7443', facts, sealing);
    assert.equal(parseManifestPayload(payload).bake, 15);
    const plain = await buildManifestPayload(without.config, planContainers(without.config), '10.0.0.1:7443', facts, sealing);
    assert.equal('bake' in plain, false, 'no bake field for agents that may not know it');
  });

  it('refuses values outside 1..3600 and non-integers, naming the key and line', async () => {
    assert.equal(await configError(base() + 'bake: 0\n'), 'bake: should be at least 1 (deploy.yml:7)');
    assert.equal(await configError(base() + 'bake: 3601\n'), 'bake: should be at most 3600 (deploy.yml:7)');
    assert.equal(await configError(base() + 'bake: 2.5\n'), 'bake: should be an integer (deploy.yml:7)');
    assert.equal(await configError(base() + 'bake: "15"\n'), 'bake: should be a number (deploy.yml:7)');
    assert.equal(await configError(base() + 'bake:\n  seconds: 15\n'), 'bake: should be a number (deploy.yml:7)');
  });

  it('deploy config shows it', async () => {
    const cwd = app({ 'deploy.yml': base() + 'bake: 20\n' });
    const json = await run(cwd, ['config', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).bake, 20);
    const yaml = await run(cwd, ['config']);
    assert.match(yaml.stdout, /^bake: 20$/m);
    assert.doesNotMatch((await run(app({ 'deploy.yml': base() }), ['config'])).stdout, /bake/);
  });
});

describe('deploy push with bake', () => {
  let f: Awaited<ReturnType<typeof featurePushFixture>>;
  before(async () => {
    f = await featurePushFixture('bake.v1');
  });
  after(() => f.close());

  const configure = (agent: FakeAgent, extra: string) => writeFileSync(join(f.dir, 'deploy.yml'), base(`  - 127.0.0.1:${agent.port}`) + extra);

  it('refuses an agent without bake.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(f.outdated, 'bake: 15\n');
    const host = `127.0.0.1:${f.outdated.port}`;
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host.replace(/\./g, '\\.')} \\(version 0\\.1\\.0\\) does not support bake\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host.replace(/\./g, '\\.')}`));
    assert.equal(f.accepted.length, 0);
    assert.equal(f.outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('the same old agent still takes a release without bake', async () => {
    configure(f.outdated, '');
    const res = await f.run(['push', '--version', 'r1']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(f.accepted.length, 1);
    assert.doesNotMatch(res.stdout + res.stderr, /bake/);
  });

  it('sends bake to an agent that knows it and says what the agent will do after the push', async () => {
    configure(f.current, 'bake: 15\n');
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 0, res.stderr);
    const payload = await verifyManifest(f.accepted.at(-1)!, { lookupKey: () => f.publicJwk, audience: f.current.agentId });
    assert.equal(payload.bake, 15);
    assert.match(res.stdout, /\nbake window: each agent watches r1 for 15s and switches back to the previous release by itself if it fails\n$/);
    const json = await f.run(['push', '--version', 'r1', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(json.stdout.trim().split('\n').every((l) => JSON.parse(l)), 'only NDJSON on stdout');
  });
});
