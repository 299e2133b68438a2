// deploy push with an auto_deploy policy: refused (nothing sent) by an agent
// without auto_deploy.v1; otherwise each host's manifest carries the policy
// with every source secret sealed to that agent for exactly its source.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SealBindingError } from '../../../shared/errors.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { openSealed } from '../../../shared/sealing.js';
import { featurePushFixture, type FakeAgent } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const POLICY = 'x-berth:\n  auto_deploy:\n    tag: "~1.4"\n    sources:\n      - quay\n      - github:GHCR_HOOK\n    poll: 10m\n';

describe('deploy push with auto_deploy', () => {
  let f: Awaited<ReturnType<typeof featurePushFixture>>;
  before(async () => {
    f = await featurePushFixture('auto_deploy.v1');
    mkdirSync(join(f.dir, '.kamal'));
  });
  after(() => f.close());

  const configure = (agent: FakeAgent, extra: string, secrets = 'GHCR_HOOK=hook-key-1\n') => {
    writeFileSync(join(f.dir, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - 127.0.0.1:${agent.port}\nproxy:\n  host: demo.test\n${extra}`);
    writeFileSync(join(f.dir, '.kamal', 'secrets'), secrets);
  };

  it('refuses an agent without auto_deploy.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(f.outdated, POLICY);
    const host = `127\\.0\\.0\\.1:${f.outdated.port}`;
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host} \\(version 0\\.1\\.0\\) does not support auto_deploy\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host}`));
    assert.equal(f.outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('stops before any server when a source names a secret .kamal/secrets lacks', async () => {
    configure(f.current, POLICY, 'OTHER=x\n');
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 2, 'a configuration error');
    assert.match(res.stderr, /secret GHCR_HOOK not found in/);
    assert.equal(f.current.requests.length, 0);
  });

  it('sends the policy, its secret sealed to the agent for the github source only', async () => {
    configure(f.current, POLICY);
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 0, res.stderr);
    const payload = await verifyManifest(f.accepted.at(-1)!, { lookupKey: () => f.publicJwk, audience: f.current.agentId });
    const policy = payload.auto_deploy;
    assert.equal(policy?.tag, '~1.4');
    assert.equal(policy?.poll, 600);
    assert.deepEqual(policy?.sources?.map((s) => s.name), ['quay', 'github']);
    assert.equal(policy?.sources?.[0]?.secret, undefined);
    const sealed = policy?.sources?.[1]?.secret ?? assert.fail('no sealed secret');
    assert.ok(!f.accepted.at(-1)!.includes('hook-key-1') && !res.stdout.includes('hook-key-1'));
    const key = f.current.keys.sealing.privateJwk;
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
