// `deploy config` and `deploy init` as a user runs them: exit codes, stdout,
// stderr, files written.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { main } from '../../../cli/main.js';
import { captureStream, tempDir, testEnv } from '../../support/cli-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/kamal/', import.meta.url));
const dirs: Array<{ cleanup(): void }> = [];
after(() => dirs.forEach((d) => d.cleanup()));

function newDir(): string {
  const dir = tempDir();
  dirs.push(dir);
  return dir.path;
}

async function run(cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = captureStream();
  const stderr = captureStream();
  const code = await main({ argv, env: testEnv(cwd), stdout: stdout.stream, stderr: stderr.stream });
  return { code, out: stdout.text(), err: stderr.text() };
}

describe('deploy config', () => {
  it('prints the merged config of a destination as JSON, warnings on stderr', async () => {
    const { code, out, err } = await run(join(FIXTURES, 'mysql-cron-app'), 'config', '-d', 'staging', '--json');
    assert.equal(code, 0);
    const view = JSON.parse(out) as { destination: string; files: string[]; roles: Array<{ role: string; container: string }>; secrets: string[] };
    assert.equal(view.destination, 'staging');
    assert.deepEqual(view.files, ['config/deploy.yml', 'config/deploy.staging.yml']);
    assert.deepEqual(view.roles.map((r) => r.container), ['myapp-cron-staging', 'myapp-job-staging', 'myapp-web-staging']);
    assert.deepEqual(view.secrets, ['DB_PASSWORD', 'KAMAL_REGISTRY_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'RAILS_MASTER_KEY']);
    assert.equal(err.split('\n').filter((l) => l.startsWith('warning: ')).length, 3);
  });

  it('states which Kamal version it reads: a header line in YAML, kamal_version in --json', async () => {
    const cwd = newDir();
    writeFileSync(join(cwd, 'deploy.yml'), 'service: demo\nimage: acme/demo\nservers: [10.0.0.1]\n');
    const text = await run(cwd, 'config');
    assert.equal(text.code, 0);
    assert.match(text.out, /^# read as a Kamal 2\.12\.0 configuration\nservice: demo\n/);
    const json = await run(cwd, 'config', '--json');
    assert.equal((JSON.parse(json.out) as { kamal_version: string }).kamal_version, '2.12.0');
  });

  it('prints YAML for people, and never a literal registry password', async () => {
    const cwd = newDir();
    writeFileSync(
      join(cwd, 'deploy.yml'),
      'service: demo\nimage: acme/demo\nservers: [10.0.0.1]\nproxy:\n  host: demo.example.com\nregistry:\n  username: bob\n  password: hunter2-literal\n',
    );
    const { code, out, err } = await run(cwd, 'config');
    assert.equal(code, 0);
    assert.match(out, /^service: demo$/m);
    assert.match(out, /password: "\[redacted\]"/);
    assert.doesNotMatch(out + err, /hunter2-literal/);
    assert.match(err, /^warning: registry\/password: is written in deploy\.yml in clear; list a secret name instead .*\(deploy\.yml:8\)$/m);
    const json = await run(cwd, 'config', '--json');
    assert.doesNotMatch(json.out, /hunter2-literal/);
  });

  it('exits 2 with the key and line when the config is invalid, and when -d names no file', async () => {
    const bad = await run(join(FIXTURES, 'kamal1-app'), 'config');
    assert.equal(bad.code, 2);
    // Every problem on its own line, the count first.
    assert.match(bad.err, /^error: 2 problems in config\/deploy\.yml:\n  traefik: is a Kamal 1 key.*\(config\/deploy\.yml:29\)\n  healthcheck: is a Kamal 1 key.*\(config\/deploy\.yml:34\)\nhint: /);
    const missing = await run(join(FIXTURES, 'mysql-cron-app'), 'config', '-d', 'qa');
    assert.equal(missing.code, 2);
    assert.match(missing.err, /error: destination qa: configuration file config\/deploy\.qa\.yml not found\nhint: destinations with a file: production, staging/);
  });
});

describe('deploy init', () => {
  it('writes a commented config/deploy.yml and .kamal/secrets that load as they are', async () => {
    const cwd = newDir();
    const { code, out } = await run(cwd, 'init');
    assert.equal(code, 0);
    assert.match(out, /wrote config\/deploy\.yml and \.kamal\/secrets/);
    assert.match(readFileSync(join(cwd, 'config/deploy.yml'), 'utf8'), /^# Berth reads Kamal 2's config\/deploy\.yml/);
    assert.equal(statSync(join(cwd, '.kamal/secrets')).mode & 0o777, 0o600);
    const { config, warnings } = await loadConfig(cwd);
    assert.equal(config.service, 'my-app');
    assert.deepEqual(config.roles[0]?.proxy?.hosts, ['app.example.com']);
    assert.deepEqual(warnings, []);
  });

  it('refuses to overwrite, and writes nothing then', async () => {
    const cwd = newDir();
    mkdirSync(join(cwd, '.kamal'));
    writeFileSync(join(cwd, '.kamal/secrets'), 'MINE=1\n');
    const { code, err } = await run(cwd, 'init');
    assert.equal(code, 1);
    assert.match(err, /^error: \.kamal\/secrets already exists; deploy init writes nothing over existing files/);
    assert.equal(readFileSync(join(cwd, '.kamal/secrets'), 'utf8'), 'MINE=1\n');
    assert.equal(existsSync(join(cwd, 'config/deploy.yml')), false);
  });
});
