// ERB in deploy.yml both ways a user meets it: with `ruby` on PATH (real
// Ruby, real ERB, as Kamal renders) and without it (Berth's subset). The same
// fixture gives the same merged config either way, errors point at the line
// as written, Kamal 1 files are still named as such, and a file without ERB
// starts no process.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { renderErb } from '../../../cli/config/erb.js';
import { loadConfig } from '../../../cli/config/load.js';
import { main } from '../../../cli/main.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs, captureStream, tempDir, testEnv } from '../../support/cli-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const ERB_APP = join(FIXTURES, 'erb', 'erb-app');
const app = appDirs('berth-erb-');
const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

/** A PATH with the tools the fixtures' commands use, and no ruby. */
function pathWithoutRuby(): string {
  const dir = tempDir('berth-noruby-');
  dirs.push(dir);
  for (const tool of ['cat', 'sleep', 'printf', 'head', 'tr', 'git']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (found) symlinkSync(found, join(dir.path, tool));
  }
  return dir.path;
}

const BASE = 'service: demo\nimage: acme/demo\nservers:\n  web:\n    - 10.0.0.1\n';
// BERTH_ERB=ruby: without Ruby these cases fail rather than quietly take the built-in path.
const WITH_RUBY = { PATH: process.env.PATH ?? '', BERTH_ERB: 'ruby' };
const WITHOUT_RUBY = { PATH: pathWithoutRuby() };
const BOTH = [
  ['with ruby', WITH_RUBY],
  ['without ruby', WITHOUT_RUBY],
] as const;

async function refusal(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => assert.fail('loaded'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  return err;
}

describe('ERB: the same fixture with and without Ruby', () => {
  it('gives the same merged config, base and destination file both rendered', async () => {
    const withRuby = await loadConfig(ERB_APP, undefined, 'staging', WITH_RUBY);
    const without = await loadConfig(ERB_APP, undefined, 'staging', WITHOUT_RUBY);
    assert.deepEqual(without.config, withRuby.config);
    const { config } = withRuby;
    assert.equal(config.service, 'erbdemo');
    assert.equal(config.image, 'ghcr.io/acme/erbdemo');
    assert.deepEqual(config.servers.map((s) => s.host), ['10.0.1.5']);
    assert.deepEqual(config.proxy?.hosts, ['staging.example.com']);
    assert.equal(config.proxy?.app_port, 3000);
    assert.deepEqual(config.env.clear, {
      RUBY_VERSION: '3.3.1',
      REVISION: 'abc1234',
      BUILT_FROM: 'abc1234',
      REDIS_PASSWORD: 'dummy-redis-password',
      DB_HOST: 'db.staging.internal',
      LITERAL: '<%= not erb %%>',
      DESTINATION: 'staging',
    });
  });

  it('sees the CLI environment: a role appears when WITH_JOBS=1, in both', async () => {
    for (const [, env] of BOTH) {
      const { config } = await loadConfig(ERB_APP, undefined, 'staging', { ...env, WITH_JOBS: '1', APP_NAME: 'other' });
      assert.deepEqual(config.roles.map((r) => r.name).sort(), ['job', 'web']);
      assert.equal(config.image, 'ghcr.io/acme/other');
    }
  });

  it('runs `git rev-parse --short HEAD`.strip in the app dir, as real configs do', async () => {
    const dir = app({ 'config/deploy.yml': `${BASE}env:\n  clear:\n    SHA: <%= \`git rev-parse --short HEAD\`.strip %>\n` });
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { cwd: dir, encoding: 'utf8' }).trim();
    git('init', '-q');
    git('commit', '-q', '--allow-empty', '-m', 'x');
    const sha = git('rev-parse', '--short', 'HEAD');
    for (const [, env] of BOTH) assert.equal((await loadConfig(dir, undefined, '', env)).config.env.clear.SHA, sha);
  });

  for (const [name, env] of BOTH) {
    it(`deploy config -d staging --json renders ERB in both files (${name})`, async () => {
      const stdout = captureStream();
      const stderr = captureStream();
      const code = await main({ argv: ['config', '-d', 'staging', '--json'], env: testEnv(ERB_APP, { processEnv: env }), stdout: stdout.stream, stderr: stderr.stream });
      assert.equal(code, 0, stderr.text());
      const view = JSON.parse(stdout.text()) as { image: string; files: string[]; servers: string[]; roles: Array<{ proxy: { hosts: string[] }; env: { clear: Record<string, string> } }> };
      assert.equal(view.image, 'ghcr.io/acme/erbdemo');
      assert.deepEqual(view.files, ['config/deploy.yml', 'config/deploy.staging.yml']);
      assert.deepEqual(view.servers, ['10.0.1.5:7443']);
      assert.deepEqual(view.roles[0]?.proxy.hosts, ['staging.example.com']);
      assert.equal(view.roles[0]?.env.clear.DESTINATION, 'staging');
    });
  }
});


describe('ERB: errors point at the file as written', () => {
  for (const [name, env] of BOTH) {
    it(`a YAML error after a multi-line expansion names its source line (${name})`, async () => {
      const dir = app({ 'config/deploy.yml': `${BASE}<%= "env:\\n  clear:\\n    A: 1" %>\n<% if true -%>\n<% end -%>\nservice: again\n` });
      const err = await refusal(loadConfig(dir, undefined, '', env));
      assert.match(err.message, /^invalid YAML: .* \(config\/deploy\.yml:9\)$/);
    });

    it(`a config error after the expansion names its source line (${name})`, async () => {
      const dir = app({ 'config/deploy.yml': `${BASE}<%= "x-a: 1\\nx-b: 2" %>\nproxy:\n  ssl: <%= "maybe" %>\n` });
      assert.match((await refusal(loadConfig(dir, undefined, '', env))).message, /^proxy\/ssl: should be a boolean.* \(config\/deploy\.yml:8\)$/);
    });
  }

  it('a Ruby exception names the file and line, and the tag', async () => {
    const dir = app({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': 'env:\n  clear:\n    A: <%= ENV.fetch("BERTH_NOT_SET") %>\n' });
    assert.equal(
      (await refusal(loadConfig(dir, undefined, 'staging', WITH_RUBY))).message,
      'ERB <%= ENV.fetch("BERTH_NOT_SET") %> failed in Ruby: KeyError: key not found: "BERTH_NOT_SET" (config/deploy.staging.yml:3)',
    );
    const syntax = app({ 'config/deploy.yml': `${BASE}env:\n  clear:\n    A: <%= ENV["X" %>\n` });
    assert.match((await refusal(loadConfig(syntax, undefined, '', WITH_RUBY))).message, /^ERB <%= ENV\["X" %> failed in Ruby: SyntaxError: .*\(config\/deploy\.yml:8\)$/);
  });

  it('never shows a value from ENV in a Ruby error', async () => {
    const dir = app({ 'config/deploy.yml': `${BASE}env:\n  clear:\n    A: <%= ENV["BERTH_TOKEN"].nosuch %>\n` });
    const err = await refusal(loadConfig(dir, undefined, '', { ...WITH_RUBY, BERTH_TOKEN: 'hunter2-secret-value' }));
    assert.match(err.message, /NoMethodError/);
    assert.doesNotMatch(err.message, /hunter2/);
  });
});

describe('ERB: limits', () => {
  const files = (template: string) => [{ label: 'config/deploy.yml', text: template }];
  for (const [name, env] of BOTH) {
    it(`stops a command that sleeps at the time limit (${name})`, async () => {
      const err = await refusal(renderErb(files('a: <%= `sleep 30` %>\n'), app({}), '', { maxBytes: 4096, timeoutMs: 500, env }));
      assert.match(err.message, /took longer than 0.5 s/);
    });

    it(`refuses output larger than the config limit (${name})`, async () => {
      const err = await refusal(renderErb(files('a: <%= "x" * 5000 %>\n'.replace('"x" * 5000', `"${'x'.repeat(5000)}"`)), app({}), '', { maxBytes: 4096, env }));
      assert.equal(err.message, 'config/deploy.yml renders (ERB) to more than 4096 bytes');
    });
  }

  it('BERTH_ERB=ruby without ruby on PATH is an error; BERTH_ERB=builtin does not use Ruby', async () => {
    assert.match((await refusal(renderErb(files('<%= 1 %>'), app({}), '', { maxBytes: 4096, env: { ...WITHOUT_RUBY, BERTH_ERB: 'ruby' } }))).message, /no ruby on PATH/);
    // Ruby would render this; the subset refuses it, so the refusal shows which one ran.
    const err = await refusal(renderErb(files('<%= [1].first %>'), app({}), '', { maxBytes: 4096, env: { ...WITH_RUBY, BERTH_ERB: 'builtin' } }));
    assert.match(err.message, /not supported without Ruby/);
  });
});

describe('ERB: starting no process for files without it', () => {
  it('runs ruby only when a file contains <%', async () => {
    const bin = tempDir('berth-fakeruby-');
    dirs.push(bin);
    const marker = join(bin.path, 'ran');
    mkdirSync(join(bin.path, 'bin'));
    writeFileSync(join(bin.path, 'bin', 'ruby'), `#!/bin/sh\necho ran > '${marker}'\nexit 1\n`);
    chmodSync(join(bin.path, 'bin', 'ruby'), 0o755);
    const env = { PATH: join(bin.path, 'bin') };
    await loadConfig(app({ 'config/deploy.yml': `${BASE}# 100% plain\n` }), undefined, '', env);
    assert.equal(existsSync(marker), false);
    const err = await refusal(loadConfig(app({ 'config/deploy.yml': `${BASE}# <%= 1 %>\n` }), undefined, '', env));
    assert.equal(existsSync(marker), true);
    assert.match(err.message, /ruby exited \(status 1\) without rendering/);
  });
});

describe('ERB in a Kamal 1 config', () => {
  const kamal1 = readFileSync(join(FIXTURES, 'kamal', 'kamal1-app', 'config', 'deploy.yml'), 'utf8');
  const rendering = kamal1.replace('image: 37s/hey', 'image: <%= ENV.fetch("IMAGE", "37s/hey") %>');
  const failing = kamal1.replace('image: 37s/hey', 'image: <%= Gem::Specification.find_by_name("berth-no-such-gem").gem_dir %>');
  for (const [name, env] of BOTH) {
    for (const [what, text] of [
      ['renders', rendering],
      ['cannot render', failing],
    ] as const) {
      it(`is refused naming the Kamal 2 key when the ERB ${what} (${name})`, async () => {
        assert.notEqual(text, kamal1);
        const err = await refusal(loadConfig(app({ 'config/deploy.yml': text }), undefined, '', env));
        assert.match(err.message, /^ {2}traefik: is a Kamal 1 key: Kamal 2 replaced Traefik with kamal-proxy.*\(config\/deploy\.yml:29\)$/m);
        assert.match(err.message, /^ {2}healthcheck: is a Kamal 1 key: use proxy\/healthcheck.*\(config\/deploy\.yml:34\)$/m);
        assert.match(err.message, /^2 problems in config\/deploy\.yml:\n/);
      });
    }
  }
});
