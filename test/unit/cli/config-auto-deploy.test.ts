// auto_deploy (and bake) in deploy.yml as a user writes them: at the top level
// or under x-berth: (which Kamal ignores), never both; errors with key path
// and file:line; `deploy config` shows the policy with secrets by name only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { parseDuration } from '../../../cli/config/schema-berth.js';
import { main } from '../../../cli/main.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs, captureStream, testEnv } from '../../support/cli-fixtures.js';

const app = appDirs();
const BASE = `service: demo
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  - 10.0.0.1
proxy:
  host: demo.test
`;

async function configOf(extra: string) {
  return (await loadConfig(app({ 'deploy.yml': BASE + extra }))).config;
}

async function configError(extra: string): Promise<string> {
  const err = await loadConfig(app({ 'deploy.yml': BASE + extra })).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

describe('deploy.yml auto_deploy', () => {
  it('reads the list form at the top level: NAME or NAME:SECRET_NAME, poll as a duration', async () => {
    const config = await configOf('auto_deploy:\n  tag: "~1.4"\n  sources:\n    - dockerhub\n    - github:GHCR_HOOK\n  poll: 5m\n');
    assert.deepEqual(config.auto_deploy, { tag: '~1.4', sources: [{ name: 'dockerhub' }, { name: 'github', secret: 'GHCR_HOOK' }], poll: 300 });
    assert.deepEqual(planContainers(config).secretNames, ['GHCR_HOOK'], 'the secret is read from .kamal/secrets like any other');
  });

  it('reads a list item written NAME: SECRET_NAME (a one-key map in YAML) like NAME:SECRET_NAME', async () => {
    const config = await configOf('auto_deploy:\n  tag: main\n  sources:\n    - harbor: HARBOR_HOOK\n    - quay:\n');
    assert.deepEqual(config.auto_deploy?.sources, [{ name: 'harbor', secret: 'HARBOR_HOOK' }, { name: 'quay' }]);
  });

  it('reads the same policy under x-berth:, and the map form of sources', async () => {
    const config = await configOf('x-berth:\n  auto_deploy:\n    tag: v*\n    sources:\n      quay:\n      generic:\n        secret: CI_HOOK\n  bake: 30\n');
    assert.deepEqual(config.auto_deploy, { tag: 'v*', sources: [{ name: 'quay' }, { name: 'generic', secret: 'CI_HOOK' }] });
    assert.equal(config.bake, 30);
  });

  it('accepts poll alone, in seconds or with a unit', async () => {
    assert.equal((await configOf('auto_deploy:\n  tag: main\n  poll: 300\n')).auto_deploy?.poll, 300);
    assert.equal((await configOf('auto_deploy:\n  tag: main\n  poll: 1h\n')).auto_deploy?.poll, 3600);
    assert.equal((await configOf('auto_deploy:\n  tag: main\n  poll: 90s\n')).auto_deploy?.poll, 90);
    assert.deepEqual([parseDuration('1d'), parseDuration('5 m'), parseDuration('5min'), parseDuration(1.5), parseDuration('-1m')], [86400, 300, undefined, undefined, undefined]);
  });

  it('refuses a key given both at the top level and under x-berth, naming both paths', async () => {
    assert.equal(
      await configError('auto_deploy:\n  tag: main\n  poll: 5m\nx-berth:\n  auto_deploy:\n    tag: main\n    poll: 5m\n'),
      'x-berth/auto_deploy: is also set at the top level (auto_deploy); keep one of auto_deploy and x-berth/auto_deploy (deploy.yml:11)',
    );
    assert.match(await configError('bake: 10\nx-berth:\n  bake: 20\n'), /^x-berth\/bake: is also set at the top level \(bake\); keep one of bake and x-berth\/bake \(deploy\.yml:9\)$/);
  });

  it('names the path under x-berth and the line in errors', async () => {
    assert.equal(await configError('x-berth:\n  bake: 0\n'), 'x-berth/bake: should be at least 1 (deploy.yml:8)');
    assert.equal(await configError('x-berth:\n  auto_deploy:\n    tag: main\n    poll: soon\n'), 'x-berth/auto_deploy/poll: should be a duration: seconds (300) or 90s, 5m, 1h, 1d (deploy.yml:10)');
    assert.equal(await configError('x-berth:\n  backup: {}\n'), 'x-berth/backup: unknown key (x-berth holds auto_deploy, backups, bake, cron, notify, replicas) (deploy.yml:8)');
  });

  it('refuses bad durations, a poll out of bounds and a policy nothing triggers', async () => {
    assert.match(await configError('auto_deploy:\n  tag: main\n  poll: 5 minutes\n'), /^auto_deploy\/poll: should be a duration/);
    assert.equal(await configError('auto_deploy:\n  tag: main\n  poll: 30s\n'), 'auto_deploy/poll: should be between 1m and 24h (60..86400 seconds) (deploy.yml:9)');
    assert.match(await configError('auto_deploy:\n  tag: main\n  poll: 2d\n'), /auto_deploy\/poll: should be between 1m and 24h/);
    assert.equal(await configError('auto_deploy:\n  tag: main\n'), 'auto_deploy: needs sources, poll or both (otherwise nothing could ever trigger a deploy) (deploy.yml:7)');
    assert.match(await configError('auto_deploy: main\n'), /^auto_deploy: should be a map with tag, sources and\/or poll/);
  });

  it('refuses a bad tag, naming why; a number asks for quotes', async () => {
    assert.match(await configError('auto_deploy:\n  tag: ">=banana"\n  poll: 5m\n'), /^auto_deploy\/tag: tag pattern ">=banana" is not a valid semver range \(deploy\.yml:8\)/);
    assert.match(await configError('auto_deploy:\n  tag: 1.10\n  poll: 5m\n'), /auto_deploy\/tag: should be a string: quote it \(tag: "1\.1"\)/);
    assert.match(await configError('auto_deploy:\n  poll: 5m\n'), /auto_deploy\/tag: is required/);
  });

  it('refuses unknown, repeated or mis-secreted sources and bad secret names', async () => {
    const src = (lines: string) => `auto_deploy:\n  tag: main\n  sources:\n${lines}`;
    assert.equal(await configError(src('    - gitlab\n')), 'auto_deploy/sources/0: "gitlab" is not a webhook source (one of distribution, dockerhub, github, harbor, quay, generic) (deploy.yml:10)');
    assert.match(await configError(src('    - quay\n    - quay\n')), /^auto_deploy\/sources\/1: quay is listed twice \(deploy\.yml:11\)/);
    assert.match(await configError(src('    - github\n')), /^auto_deploy\/sources\/0: github verifies deliveries with a secret: write github:SECRET_NAME/);
    assert.match(await configError(src('    - dockerhub:HUB\n')), /^auto_deploy\/sources\/0: dockerhub signs nothing .* takes no secret/);
    assert.match(await configError(src('    harbor:\n      secret: not-a-name\n')), /^auto_deploy\/sources\/harbor: the secret should be the NAME of a secret/);
    assert.match(await configError(src('    harbor:\n      token: X\n')), /auto_deploy\/sources\/harbor\/token: unknown key/);
    assert.match(await configError('auto_deploy:\n  tag: main\n  poll: 5m\n  repository: other/repo\n'), /^auto_deploy\/repository: unknown key/);
  });

  it('deploy config shows the policy with secrets by name, never their values', async () => {
    const cwd = app({
      'deploy.yml': BASE + 'x-berth:\n  auto_deploy:\n    tag: "^2"\n    sources: [distribution:REG_HOOK]\n    poll: 10m\n',
      '.kamal/secrets': 'REG_HOOK=hunter2-webhook\n',
    });
    const stdout = captureStream();
    const stderr = captureStream();
    const code = await main({ argv: ['config', '--json'], env: testEnv(cwd), stdout: stdout.stream, stderr: stderr.stream });
    assert.equal(code, 0, stderr.text());
    assert.deepEqual(JSON.parse(stdout.text()).auto_deploy, { tag: '^2', sources: [{ name: 'distribution', secret: 'REG_HOOK' }], poll: 600 });
    assert.ok(!stdout.text().includes('hunter2'));
  });
});
