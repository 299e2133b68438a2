// deploy push with an auto_deploy policy: refused (nothing sent) by an agent
// without auto_deploy.v1; otherwise each host's manifest carries the policy
// with every source secret sealed to that agent for exactly its source.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../../../cli/main.js';
import { SealBindingError } from '../../../shared/errors.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { openSealed } from '../../../shared/sealing.js';
import { FEATURES } from '../../../shared/version.js';
import { captureStream, makeCert, pushRoutes, startFakeAgent, tempDir, testEnv, type FakeAgent } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const POLICY = 'x-berth:\n  auto_deploy:\n    tag: "~1.4"\n    sources:\n      - quay\n      - github:GHCR_HOOK\n    poll: 10m\n';

async function run(cwd: string, argv: string[], xdg: string) {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env: testEnv(cwd, { xdgConfigHome: xdg }), stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

describe('deploy push with auto_deploy', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const accepted: string[] = [];
  let current: FakeAgent;
  let outdated: FakeAgent;
  let publicJwk: Record<string, unknown>;

  before(async () => {
    current = await startFakeAgent(makeCert(dir.path, 'current'), { route: pushRoutes(accepted) });
    outdated = await startFakeAgent(makeCert(dir.path, 'outdated'), { route: pushRoutes(accepted), features: FEATURES.filter((f) => f !== 'auto_deploy.v1') });
    assert.equal((await run(dir.path, ['keys', 'new'], xdg)).code, 0);
    const { readKeyFile } = await import('../../../cli/keys.js');
    publicJwk = (await readKeyFile(join(xdg, 'berth', 'key.jwk'))).publicJwk;
    mkdirSync(join(dir.path, '.kamal'));
  });
  after(async () => {
    await current.close();
    await outdated.close();
    dir.cleanup();
  });

  const configure = (agent: FakeAgent, extra: string, secrets = 'GHCR_HOOK=hook-key-1\n') => {
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - 127.0.0.1:${agent.port}\nproxy:\n  host: demo.test\n${extra}`);
    writeFileSync(join(dir.path, '.kamal', 'secrets'), secrets);
  };

  it('refuses an agent without auto_deploy.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(outdated, POLICY);
    const host = `127\\.0\\.0\\.1:${outdated.port}`;
    const res = await run(dir.path, ['push', '--version', 'r1', '--trust-new'], xdg);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host} \\(version 0\\.1\\.0\\) does not support auto_deploy\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host}`));
    assert.equal(outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('stops before any server when a source names a secret .kamal/secrets lacks', async () => {
    configure(current, POLICY, 'OTHER=x\n');
    const res = await run(dir.path, ['push', '--version', 'r1', '--trust-new'], xdg);
    assert.equal(res.code, 2, 'a configuration error');
    assert.match(res.stderr, /secret GHCR_HOOK not found in/);
    assert.equal(current.requests.length, 0);
  });

  it('sends the policy, its secret sealed to the agent for the github source only', async () => {
    configure(current, POLICY);
    const res = await run(dir.path, ['push', '--version', 'r1', '--trust-new'], xdg);
    assert.equal(res.code, 0, res.stderr);
    const payload = await verifyManifest(accepted.at(-1)!, { lookupKey: () => publicJwk, audience: current.agentId });
    const policy = payload.auto_deploy;
    assert.equal(policy?.tag, '~1.4');
    assert.equal(policy?.poll, 600);
    assert.deepEqual(policy?.sources?.map((s) => s.name), ['quay', 'github']);
    assert.equal(policy?.sources?.[0]?.secret, undefined);
    const sealed = policy?.sources?.[1]?.secret ?? assert.fail('no sealed secret');
    assert.ok(!accepted.at(-1)!.includes('hook-key-1') && !res.stdout.includes('hook-key-1'));
    const key = current.keys.sealing.privateJwk;
    const opened = await openSealed(sealed, key, { use: 'webhook-secret', service: 'demo', destination: '', source: 'github' });
    assert.deepEqual(opened, { value: 'hook-key-1', bound: true });
    for (const other of [
      { use: 'webhook-secret' as const, service: 'demo', destination: '', source: 'generic' },
      { use: 'webhook-secret' as const, service: 'other', destination: '', source: 'github' },
      { use: 'env' as const, service: 'demo', destination: '', role: 'web', name: 'GHCR_HOOK' },
    ]) {
      await assert.rejects(openSealed(sealed, key, other), (e: unknown) => e instanceof SealBindingError && e.code === 'seal_mismatch');
    }
  });
});
