// deploy push with cron jobs: refused (nothing sent) by an agent without
// cron.v1; otherwise the manifest carries the jobs, and the notify URL and
// HMAC key sealed to that agent, each opening only for its own use.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SealBindingError } from '../../../shared/errors.js';
import { verifyManifest } from '../../../shared/manifest-signing.js';
import { openSealed } from '../../../shared/sealing.js';
import { featurePushFixture, type FakeAgent } from '../../support/cli-fixtures.js';

const DIGEST = `sha256:${'cd'.repeat(32)}`;
const JOBS = 'x-berth:\n  cron:\n    nightly:\n      schedule: "0 3 * * *"\n      command: bin/rails reports:send\n  notify:\n    url: HOOK_URL\n    secret: HOOK_KEY\n';

describe('deploy push with cron jobs', () => {
  let f: Awaited<ReturnType<typeof featurePushFixture>>;
  before(async () => {
    f = await featurePushFixture('cron.v1');
    mkdirSync(join(f.dir, '.kamal'));
  });
  after(() => f.close());

  const configure = (agent: FakeAgent, extra: string) => {
    writeFileSync(join(f.dir, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/berth-test/web@${DIGEST}\nservers:\n  - 127.0.0.1:${agent.port}\nproxy:\n  host: demo.test\n${extra}`);
    writeFileSync(join(f.dir, '.kamal', 'secrets'), 'HOOK_URL=https://hooks.example.com/t0ken\nHOOK_KEY=hmac-key-1\n');
  };

  it('refuses an agent without cron.v1: exit 1, "upgrade the agent on HOST", nothing sent', async () => {
    configure(f.outdated, JOBS);
    const host = `127\\.0\\.0\\.1:${f.outdated.port}`;
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`the agent on ${host} \\(version 0\\.1\\.0\\) does not support cron\\.v1`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${host}`));
    assert.equal(f.outdated.requests.filter((r) => r.method === 'POST').length, 0);
  });

  it('sends the jobs, the notify URL and key sealed to the agent for notify only', async () => {
    configure(f.current, JOBS);
    const res = await f.run(['push', '--version', 'r1', '--trust-new']);
    assert.equal(res.code, 0, res.stderr);
    const token = f.accepted.at(-1)!;
    const payload = await verifyManifest(token, { lookupKey: () => f.publicJwk, audience: f.current.agentId });
    assert.deepEqual(payload.cron?.nightly?.command, ['bin/rails', 'reports:send']);
    assert.equal(payload.cron?.nightly?.role, 'web');
    assert.ok(!token.includes('t0ken') && !token.includes('hmac-key-1') && !res.stdout.includes('t0ken'));
    const key = f.current.keys.sealing.privateJwk;
    const where = { service: 'demo', destination: '' };
    const url = payload.notify?.url ?? assert.fail('no notify url');
    const secret = payload.notify?.secret ?? assert.fail('no notify secret');
    assert.deepEqual(await openSealed(url, key, { use: 'notify-url', ...where }), { value: 'https://hooks.example.com/t0ken', bound: true });
    assert.deepEqual(await openSealed(secret, key, { use: 'notify-secret', ...where }), { value: 'hmac-key-1', bound: true });
    for (const [sealed, other] of [
      [url, { use: 'notify-secret' as const, ...where }],
      [secret, { use: 'notify-url' as const, ...where }],
      [url, { use: 'notify-url' as const, service: 'other', destination: '' }],
    ] as const) {
      await assert.rejects(openSealed(sealed, key, other), (e: unknown) => e instanceof SealBindingError && e.code === 'seal_mismatch');
    }
  });
});
