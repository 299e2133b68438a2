// cron: and notify: in deploy.yml as a user writes them: at the top level or
// under x-berth:, defaults applied, every refusal naming the key path and the
// file:line; `deploy config` shows the jobs and never a hook's token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { main } from '../../../cli/main.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs, captureStream, testEnv } from '../../support/cli-fixtures.js';

const app = appDirs();
// Extra YAML starts at line 13.
const BASE = `service: demo
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  web:
    - 10.0.0.1
    - 10.0.0.2
  worker:
    hosts:
      - 10.0.0.3
    cmd: bin/jobs
proxy:
  host: demo.test
`;

const loaded = (extra: string) => loadConfig(app({ 'deploy.yml': BASE + extra }));
const configOf = async (extra: string) => (await loaded(extra)).config;

async function configError(extra: string): Promise<string> {
  const err = await loaded(extra).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

const job = (lines: string) => `cron:\n  backup:\n${lines}`;

describe('deploy.yml cron', () => {
  it('reads a job with its defaults: primary role, UTC, forbid, one host, no retries, timeout min(1h, gap)', async () => {
    const config = await configOf(job('    schedule: "0 3 * * *"\n    command: bin/backup --to "s3 bucket"\n'));
    assert.deepEqual(config.cron, {
      backup: { schedule: '0 3 * * *', timezone: 'UTC', command: ['bin/backup', '--to', 's3 bucket'], role: 'web', timeout: 3600, concurrency: 'forbid', retries: 0, retry_backoff: 10, hosts: 'one' },
    });
    assert.equal((await configOf(job('    schedule: "*/5 * * * * *"\n    command: bin/tick\n'))).cron?.backup?.timeout, 5, 'every 5 s: the timeout defaults to the gap');
    assert.equal((await configOf(job('    schedule: "*/10 * * * *"\n    command: bin/tick\n'))).cron?.backup?.timeout, 600);
    assert.equal((await configOf(job('    schedule: "@secondly"\n    command: bin/tick\n'))).cron?.backup?.timeout, 1);
  });

  it('reads every key: argv list, role, IANA zone, durations, concurrency, retries, hosts', async () => {
    const config = await configOf(
      job('    schedule: "@daily"\n    command: [bin/rails, "reports:send", "--all"]\n    role: worker\n    timezone: Europe/Berlin\n    timeout: 5m\n    concurrency: allow\n    retries: 3\n    retry_backoff: 1m\n    hosts: all\n'),
    );
    assert.deepEqual(config.cron?.backup, {
      schedule: '@daily', timezone: 'Europe/Berlin', command: ['bin/rails', 'reports:send', '--all'], role: 'worker', timeout: 300, concurrency: 'allow', retries: 3, retry_backoff: 60, hosts: 'all',
    });
    assert.equal((await configOf(job('    schedule: "@hourly"\n    command: x\n    timeout: 90\n'))).cron?.backup?.timeout, 90);
  });

  it('reads cron and notify under x-berth:, and refuses them in both places naming both paths', async () => {
    const config = await configOf('x-berth:\n  cron:\n    sweep:\n      schedule: "@hourly"\n      command: bin/sweep\n  notify: https://hooks.example.com/berth\n');
    assert.deepEqual(Object.keys(config.cron ?? {}), ['sweep']);
    assert.deepEqual(config.notify?.url, { literal: 'https://hooks.example.com/berth' });
    assert.equal(
      await configError('cron:\n  a:\n    schedule: "@hourly"\n    command: x\nx-berth:\n  cron:\n    b:\n      schedule: "@hourly"\n      command: y\n'),
      'x-berth/cron: is also set at the top level (cron); keep one of cron and x-berth/cron (deploy.yml:18)',
    );
    assert.equal(await configError('notify: A_URL\nx-berth:\n  notify: B_URL\n'), 'x-berth/notify: is also set at the top level (notify); keep one of notify and x-berth/notify (deploy.yml:15)');
    assert.equal(await configError('x-berth:\n  cron:\n    sweep:\n      schedule: "* *"\n      command: x\n'), 'x-berth/cron/sweep/schedule: "* *" has 2 fields; a schedule has 5 (minute hour day month weekday) or 6 (second first) (deploy.yml:16)');
  });

  it('refuses a bad schedule, an unknown role, an unknown zone, with key path and line', async () => {
    assert.equal(await configError(job('    schedule: "* * *"\n    command: x\n')), 'cron/backup/schedule: "* * *" has 3 fields; a schedule has 5 (minute hour day month weekday) or 6 (second first) (deploy.yml:15)');
    assert.match(await configError(job('    schedule: "61 * * * *"\n    command: x\n')), /^cron\/backup\/schedule: "61 \* \* \* \*" is not a valid schedule: .* \(deploy\.yml:15\)$/);
    assert.match(await configError(job('    schedule: "@reboot"\n    command: x\n')), /^cron\/backup\/schedule: @reboot is not a schedule the agent keeps/);
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    role: db\n')), 'cron/backup/role: "db" is not a role in servers (roles: web, worker) (deploy.yml:17)');
    assert.equal(
      await configError(job('    schedule: "@daily"\n    command: x\n    timezone: Mars/Olympus\n')),
      'cron/backup/timezone: "Mars/Olympus" is not an IANA time zone name (like UTC or Europe/Berlin) (deploy.yml:17)',
    );
    assert.equal(await configError(job('    command: x\n')), 'cron/backup/schedule: is required (5 or 6 cron fields, or @daily-style) (deploy.yml:14)');
  });

  it('refuses a role with no hosts: the job would run nowhere', async () => {
    const extra = 'allow_empty_roles: true\n' + job('    schedule: "@daily"\n    command: x\n    role: idle\n');
    const err = await loadConfig(app({ 'deploy.yml': BASE.replace('proxy:', '  idle:\n    hosts: []\nproxy:') + extra })).then(() => assert.fail('expected an error'), (e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'cron/backup/role: role idle has no hosts, so the job would run nowhere (deploy.yml:20)');
  });

  it('refuses a timeout longer than the shortest gap under forbid, not under allow or replace', async () => {
    assert.equal(
      await configError(job('    schedule: "*/5 * * * *"\n    command: x\n    timeout: 10m\n')),
      'cron/backup/timeout: 600s is longer than the 5m between runs; under concurrency forbid a run that long skips the next one (shorten timeout, or set concurrency: allow or replace) (deploy.yml:17)',
    );
    for (const concurrency of ['allow', 'replace']) {
      assert.equal((await configOf(job(`    schedule: "*/5 * * * *"\n    command: x\n    timeout: 10m\n    concurrency: ${concurrency}\n`))).cron?.backup?.timeout, 600);
    }
  });

  it('refuses shell operators outside quotes in a command string, as in a role cmd', async () => {
    assert.equal(
      await configError(job('    schedule: "@daily"\n    command: bin/backup > /tmp/log\n')),
      `cron/backup/command: uses ">" outside quotes, which the host shell interpreted under Kamal; run it in the container with sh -c '…' (deploy.yml:16)`,
    );
    assert.match(await configError(job('    schedule: "@daily"\n    command: echo $HOME\n')), /^cron\/backup\/command: uses \$ outside quotes, which the host shell expanded under Kamal/);
    assert.deepEqual((await configOf(job(`    schedule: "@daily"\n    command: sh -c 'bin/backup > /tmp/log'\n`))).cron?.backup?.command, ['sh', '-c', 'bin/backup > /tmp/log']);
    assert.equal(await configError(job('    schedule: "@daily"\n    command: [bin/x, 3]\n')), 'cron/backup/command: should be a non-empty list of strings (the argv, run without a shell) (deploy.yml:16)');
    assert.match(await configError(job('    schedule: "@daily"\n')), /^cron\/backup\/command: is required/);
  });

  it('refuses too many jobs, bad job names, unknown keys and values out of range', async () => {
    const many = Array.from({ length: 65 }, (_, i) => `  j${i}:\n    schedule: "@daily"\n    command: x\n`).join('');
    assert.equal(await configError(`cron:\n${many}`), 'cron: has 65 jobs; at most 64 are allowed (deploy.yml:13)');
    assert.equal(await configError('cron:\n  Nightly:\n    schedule: "@daily"\n    command: x\n'), 'cron/Nightly: job names must be 1-63 of a-z, 0-9, "-", "_", starting with a letter or digit (deploy.yml:14)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    when: later\n')), 'cron/backup/when: unknown key (deploy.yml:17)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    concurrency: skip\n')), 'cron/backup/concurrency: should be one of forbid, allow, replace (deploy.yml:17)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    hosts: two\n')), 'cron/backup/hosts: should be one of one, all (deploy.yml:17)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    retries: 11\n')), 'cron/backup/retries: should be a whole number from 0 to 10 (deploy.yml:17)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    timeout: 0s\n')), 'cron/backup/timeout: should be between 1s and 86400s (deploy.yml:17)');
    assert.equal(await configError(job('    schedule: "@daily"\n    command: x\n    retry_backoff: soon\n')), 'cron/backup/retry_backoff: should be a duration: seconds (300) or 90s, 5m, 1h, 1d (deploy.yml:17)');
    assert.match(await configError('cron: [a, b]\n'), /^cron: should be a map of job names to jobs/);
  });
});

describe('deploy.yml notify', () => {
  const cron = job('    schedule: "@daily"\n    command: x\n');

  it('takes a literal URL or the NAME of a secret holding it, alone or in a map with secret and timeout', async () => {
    assert.deepEqual((await configOf(`${cron}notify: https://hooks.example.com/berth\n`)).notify, { url: { literal: 'https://hooks.example.com/berth' }, timeout: 5 });
    const config = await configOf(`${cron}notify:\n  url: NOTIFY_URL\n  secret: NOTIFY_KEY\n  timeout: 10s\n`);
    assert.deepEqual(config.notify, { url: { secret: 'NOTIFY_URL' }, secret: 'NOTIFY_KEY', timeout: 10 });
    assert.deepEqual(planContainers(config).secretNames, ['NOTIFY_KEY', 'NOTIFY_URL'], 'both are read from .kamal/secrets');
  });

  it('warns when notify has no secret, at its line', async () => {
    const { warnings } = await loaded(`${cron}notify: https://hooks.example.com/berth\n`);
    assert.deepEqual(warnings, [
      "warning: notify: has no secret, so its POSTs are unsigned and receivers cannot tell them from anyone else's; add secret: SECRET_NAME (an HMAC key in .kamal/secrets) (deploy.yml:17)",
    ]);
    assert.deepEqual((await loaded(`${cron}notify:\n  url: NOTIFY_URL\n  secret: NOTIFY_KEY\n`)).warnings, []);
    assert.deepEqual((await loaded('notify:\n  url: NOTIFY_URL\n  secret: NOTIFY_KEY\n')).warnings, [
      'warning: notify: is set but there are no cron jobs, so nothing reports to it (it is sent only with jobs) (deploy.yml:13)',
    ]);
  });

  it('refuses a URL that is not http(s), carries credentials, or a bad secret name or timeout', async () => {
    assert.equal(await configError('notify: ftp://files.example.com/hook\n'), 'notify: must be an http:// or https:// URL (deploy.yml:13)');
    assert.equal(await configError('notify:\n  url: https://bob:pw@hooks.example.com/\n  secret: K\n'), 'notify/url: must not carry a user name or password (put a token in the path or use notify secret) (deploy.yml:14)');
    assert.equal(await configError('notify:\n  url: hooks.example.com/x\n'), 'notify/url: should be an http(s) URL, or the NAME of a secret in .kamal/secrets holding it (letters, digits and _) (deploy.yml:14)');
    assert.equal(await configError('notify:\n  url: U\n  secret: not-a-name\n'), 'notify/secret: should be the NAME of a secret in .kamal/secrets (letters, digits and _), the HMAC key (deploy.yml:15)');
    assert.equal(await configError('notify:\n  url: U\n  secret: K\n  timeout: 61\n'), 'notify/timeout: should be between 1s and 60s (deploy.yml:16)');
    assert.equal(await configError('notify:\n  url: U\n  method: PUT\n'), 'notify/method: unknown key (deploy.yml:15)');
    assert.match(await configError('notify:\n  secret: K\n'), /^notify\/url: is required/);
  });
});

describe('deploy config with cron and notify', () => {
  async function show(yml: string, secrets: string) {
    const cwd = app({ 'deploy.yml': yml, '.kamal/secrets': secrets });
    const stdout = captureStream();
    const stderr = captureStream();
    const code = await main({ argv: ['config', '--json'], env: testEnv(cwd), stdout: stdout.stream, stderr: stderr.stream });
    assert.equal(code, 0, stderr.text());
    return { view: JSON.parse(stdout.text()) as Record<string, unknown>, text: stdout.text() + stderr.text() };
  }

  it('shows the jobs with defaults, a literal hook URL as scheme://host/… only, a secret one by name', async () => {
    const cron = job('    schedule: "0 3 * * *"\n    command: bin/backup\n    hosts: all\n');
    const literal = await show(`${BASE}${cron}notify:\n  url: https://hooks.slack.com/services/T0/B0/tok3n-in-path\n  secret: HOOK_KEY\n`, 'HOOK_KEY=hmac-key-value\n');
    assert.deepEqual(literal.view.cron, {
      backup: { schedule: '0 3 * * *', timezone: 'UTC', command: ['bin/backup'], role: 'web', timeout: 3600, concurrency: 'forbid', retries: 0, retry_backoff: 10, hosts: 'all' },
    });
    assert.deepEqual(literal.view.notify, { url: 'https://hooks.slack.com/…', secret: { secret: 'HOOK_KEY' }, timeout: 5 });
    assert.ok(!literal.text.includes('tok3n') && !literal.text.includes('hmac-key-value'));
    const secret = await show(`${BASE}${cron}notify:\n  url: HOOK_URL\n  secret: HOOK_KEY\n`, 'HOOK_URL=https://hooks.example.com/s3cr3t\nHOOK_KEY=k\n');
    assert.deepEqual(secret.view.notify, { url: { secret: 'HOOK_URL' }, secret: { secret: 'HOOK_KEY' }, timeout: 5 });
    assert.ok(!secret.text.includes('s3cr3t'));
  });
});
