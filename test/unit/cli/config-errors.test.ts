// Destinations merge like Kamal's, Kamal 1 keys that map cleanly are read with
// a warning, and every bad input is refused with its key path and file:line —
// each next to a control that loads.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig, type LoadedConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();

const BASE = `service: demo
image: acme/demo:latest
servers:
  web:
    hosts:
      - 10.0.0.1
    cmd: bin/web
proxy:
  host: demo.example.com
  app_port: 3000
`;

async function load(files: Record<string, string>, destination = ''): Promise<LoadedConfig> {
  return loadConfig(app(files), undefined, destination);
}

async function refused(files: Record<string, string>, destination = ''): Promise<string> {
  const err = await load(files, destination).then(
    () => assert.fail('expected a config error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
  return err.message;
}

/** Loads BASE + `extra` as config/deploy.yml and returns the error (the extra starts on line 11). */
const bad = (extra: string, base = BASE) => refused({ 'config/deploy.yml': base + extra });
const good = (extra: string, base = BASE) => load({ 'config/deploy.yml': base + extra });

describe('destinations', () => {
  const staging = `servers:
  web:
    hosts:
      - 10.0.1.1
      - 10.0.1.2
proxy:
  host: staging.example.com
env:
  clear:
    STAGE: "1"
`;

  it('merge maps key by key and replace lists, like ActiveSupport deep_merge', async () => {
    const { config, files } = await load({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': staging }, 'staging');
    assert.deepEqual(files, ['config/deploy.yml', 'config/deploy.staging.yml']);
    const [web] = planContainers(config).roles;
    assert.deepEqual(web?.hosts.map((h) => h.host), ['10.0.1.1:7443', '10.0.1.2:7443']);
    assert.deepEqual(web?.cmd, ['bin/web']);
    assert.equal(web?.container, 'demo-web-staging');
    assert.deepEqual(web?.proxy?.hosts, ['staging.example.com']);
    assert.equal(web?.proxy?.app_port, 3000);
    assert.deepEqual(web?.env.clear, { STAGE: '1' });
    // The control: without -d the base alone.
    const base = await load({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': staging });
    assert.deepEqual(base.config.roles[0]?.hosts.map((h) => h.address.host), ['10.0.0.1']);
  });

  it('point errors in a destination file at that file and line', async () => {
    const message = await refused({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': 'proxy:\n  app_port: high\n' }, 'staging');
    assert.equal(message, 'proxy/app_port: should be a number (config/deploy.staging.yml:2)');
    const listItem = await refused({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': 'servers:\n  web:\n    hosts:\n      - "bad host"\n' }, 'staging');
    assert.match(listItem, /^servers\/web\/hosts\/0: "bad host" is not HOST or HOST:PORT \(config\/deploy\.staging\.yml:4\)$/);
  });

  it('refuse a missing destination file, naming the ones that exist', async () => {
    const cwd = app({ 'config/deploy.yml': BASE, 'config/deploy.staging.yml': staging });
    const err = await loadConfig(cwd, undefined, 'prod').catch((e: unknown) => e);
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, 'destination prod: configuration file config/deploy.prod.yml not found');
    assert.equal(err.hint, 'destinations with a file: staging');
    await assert.rejects(loadConfig(cwd, undefined, '../etc'), /destination "\.\.\/etc" should be lowercase letters/);
  });

  it('require_destination: true makes -d mandatory', async () => {
    const files = { 'config/deploy.yml': BASE + 'require_destination: true\n', 'config/deploy.staging.yml': staging };
    assert.equal(await refused(files), 'require_destination: is true, so a destination must be given with -d DESTINATION (config/deploy.yml:11)');
    assert.equal((await load(files, 'staging')).config.require_destination, true);
  });
});

describe('Kamal 1 keys that map cleanly', () => {
  it('reads kamal1-app once traefik and healthcheck are gone: stop_wait_time → drain_timeout, Traefik labels and a public accessory port warned about', async () => {
    const original = readFileSync(fileURLToPath(new URL('../../../../test/fixtures/kamal/kamal1-app/config/deploy.yml', import.meta.url)), 'utf8');
    const trimmed = original.replace(/\ntraefik:\n(  .*\n)+/, '\n').replace(/\nhealthcheck:\n(  .*\n)+/, '\n');
    const { config, warnings } = await load({ 'config/deploy.yml': trimmed });
    assert.equal(config.drain_timeout, 30);
    assert.deepEqual(config.boot, { limit: 10, wait: 2 });
    assert.deepEqual(warnings.map((w) => w.replace(/ \(config\/deploy\.yml:\d+\)$/, '')), [
      'warning: labels/traefik.http.routers.hey-web.rule: Traefik labels have no effect (Kamal 2 and Berth route with proxy/host)',
      'warning: stop_wait_time: is the Kamal 1 name of drain_timeout; read as drain_timeout: 30',
      `warning: builder: ignored: Berth does not build images; build and push the image first (e.g. in CI) and deploy resolves its tag to a digest`,
      'warning: accessories/mysql/port: publishes 3306:3306 on every interface of the host; write 127.0.0.1:3306:3306 to keep it private',
      'warning: accessories/redis/port: publishes 36379:6379 on every interface of the host; write 127.0.0.1:36379:6379 to keep it private',
    ]);
    const plan = planContainers(config);
    assert.deepEqual(plan.roles.map((r) => [r.role, r.hosts.length, r.cmd, r.proxy !== null, r.labels['my-label'] ?? null]), [
      ['job', 2, ['bin/jobs'], false, '50'],
      ['web', 2, null, true, null],
    ]);
    assert.deepEqual(plan.roles[1]?.env, { clear: { DATABASE_URL: 'mysql2://db1/hey_production/', REDIS_URL: 'redis://redis1:6379/1' }, secretNames: {} });
    assert.deepEqual(plan.accessories.map((a) => [a.name, a.hosts, a.port, a.options]), [
      ['mysql', ['1.1.1.3'], '3306:3306', { cpus: '4', memory: '2GB' }],
      ['redis', ['192.168.0.1', '192.168.0.2'], '36379:6379', {}],
    ]);
    assert.match(await bad('stop_wait_time: 30\ndrain_timeout: 20\n'), /^stop_wait_time: is the Kamal 1 name of drain_timeout, which is also set; keep only drain_timeout \(config\/deploy\.yml:11\)$/);
  });
});

describe('bad input names the key and line', () => {
  it('wrong types', async () => {
    assert.equal((await good('')).config.roles[0]?.proxy?.ssl, false);
    assert.equal((await good('', BASE.replace('  app_port: 3000', '  ssl: true'))).config.roles[0]?.proxy?.ssl, true);
    assert.equal(await bad('', BASE.replace('  app_port: 3000', '  ssl: maybe')), 'proxy/ssl: should be a boolean, or a map of certificate_pem and private_key_pem (config/deploy.yml:10)');
    assert.equal(await bad('readiness_delay: soon\n'), 'readiness_delay: should be a number (config/deploy.yml:11)');
    assert.equal(await bad('volumes: /data:/data\n'), 'volumes: should be a list of volumes like /host/path:/container/path (config/deploy.yml:11)');
    assert.equal(await bad('env:\n  clear:\n    A: [1]\n'), 'env/clear/A: should be a string (config/deploy.yml:13)');
    assert.equal(await bad('labels:\n  team: {a: 1}\n'), 'labels/team: should be a string (config/deploy.yml:12)');
    assert.equal(await bad('cron: every day\n'), 'cron: should be a map of job names to jobs (schedule, command, …) (config/deploy.yml:11)');
    assert.equal(await bad('backups: every day\n'), 'backups: should be a map of backup names to backups (accessory and dump, volume or directory; schedule, keep, …) (config/deploy.yml:11)');
  });

  it('unknown keys at any depth', async () => {
    assert.equal(await bad('', BASE.replace('    cmd: bin/web', '    cmd: bin/web\n    comand: x')), 'servers/web/comand: unknown key (config/deploy.yml:8)');
    assert.equal(await bad('proxy:\n  buffering:\n    request: true\n', BASE.replace(/proxy:[\s\S]*$/, '')), 'proxy/buffering/request: unknown key (config/deploy.yml:10)');
    assert.equal(await bad('accessories:\n  redis:\n    image: redis\n    host: 10.0.0.1\n    portt: 6379\n'), 'accessories/redis/portt: unknown key (config/deploy.yml:15)');
    assert.equal((await good('x-anything:\n  whatever: 1\n')).warnings.length, 0);
  });

  it('host and hosts together, at the top or in a role', async () => {
    assert.equal(await bad('', BASE.replace('  host: demo.example.com', '  host: a.example.com\n  hosts: [b.example.com]')), "proxy/hosts: specify one of 'host' or 'hosts', not both (config/deploy.yml:10)");
    assert.deepEqual((await good('', BASE.replace('    cmd: bin/web', '    proxy:\n      hosts: [web.example.com]'))).config.roles[0]?.proxy?.hosts, ['web.example.com']);
    assert.equal(await bad('', BASE.replace('    cmd: bin/web', '    proxy:\n      host: a.example.com\n      hosts: [web.example.com]')), "servers/web/proxy/hosts: specify one of 'host' or 'hosts', not both (config/deploy.yml:9)");
  });

  it('malformed boot.limit', async () => {
    assert.deepEqual((await good('boot:\n  limit: 25%\n  wait: 2\n')).config.boot, { limit: '25%', wait: 2 });
    assert.deepEqual((await good('boot:\n  limit: 3\n')).config.boot, { limit: 3 });
    for (const limit of ['lots', '150%', '0', '-1', '2.5']) {
      assert.equal(await bad(`boot:\n  limit: ${limit}\n`), 'boot/limit: should be a number of hosts or a percentage like 25% (config/deploy.yml:12)', limit);
    }
  });

  it('labels Kamal sets itself (service, role, destination) are refused on a role and an accessory, as Kamal refuses them', async () => {
    const withLabels = (labels: string) => BASE.replace('    cmd: bin/web', `    cmd: bin/web\n    labels:\n${labels}`);
    assert.equal(await bad('', withLabels('      service: other\n')), 'servers/web/labels/service: invalid label: destination, role and service are reserved labels (Kamal sets them) (config/deploy.yml:9)');
    assert.match(await bad('accessories:\n  db:\n    image: postgres:16\n    host: 10.0.0.1\n    labels:\n      role: db\n'), /^accessories\/db\/labels\/role: invalid label: destination, role and service are reserved labels/);
    assert.deepEqual((await good('', withLabels('      team: a\n'))).config.roles[0]?.labels, { team: 'a' });
  });

  it('options that break the guardrails', async () => {
    const withOptions = (options: string) => BASE.replace('    cmd: bin/web', `    cmd: bin/web\n    options:\n${options}`);
    assert.deepEqual((await good('', withOptions('      memory: 2g\n      cpus: 2\n      add-host: [db:10.0.0.9]\n'))).config.roles[0]?.options, { memory: '2g', cpus: '2', 'add-host': ['db:10.0.0.9'] });
    assert.equal(await bad('', withOptions('      privileged: true\n')), "servers/web/options/privileged: is refused by Berth's guardrails: gives the container full control of the host (config/deploy.yml:9)");
    assert.equal(await bad('', withOptions('      pid: host\n')), "servers/web/options/pid: is refused by Berth's guardrails: can share the host process namespace (config/deploy.yml:9)");
    assert.equal(await bad('', withOptions('      network: host\n')), "servers/web/options/network: is refused by Berth's guardrails: the agent attaches app containers to its own network (config/deploy.yml:9)");
    assert.equal(await bad('', withOptions('      device: /dev/sda\n')), "servers/web/options/device: is refused by Berth's guardrails: gives the container host devices (config/deploy.yml:9)");
    assert.equal(
      await bad('', withOptions('      cap-add: SYS_ADMIN\n')),
      "servers/web/options/cap-add: adding SYS_ADMIN is refused by Berth's guardrails; it needs the server owner's consent (berth-agent run --allow-cap SYS_ADMIN on the agent) (config/deploy.yml:9)",
    );
    assert.equal(await bad('', withOptions('      restart: always\n')), 'servers/web/options/restart: cannot be set: the agent runs app containers with restart policy unless-stopped (as Kamal requires) (config/deploy.yml:9)');
    assert.match(await bad('', withOptions('      blkio-weight: 10\n')), /^servers\/web\/options\/blkio-weight: is not a docker run option Berth passes on; allowed: add-host, /);
    // An inherited property name is an unknown option, not a lookup into the object's prototype.
    assert.match(await bad('', withOptions('      constructor: x\n')), /^servers\/web\/options\/constructor: is not a docker run option Berth passes on/);
    // The agent decides about host-control mounts: the config loads with one warning naming its option.
    const control = await good('volumes:\n  - /var/run/docker.sock:/var/run/docker.sock\n  - /:/rootfs:ro\n');
    assert.deepEqual(control.config.volumes, ['/var/run/docker.sock:/var/run/docker.sock', '/:/rootfs:ro']);
    assert.deepEqual(control.warnings, [
      'warning: volumes/0: mounting /var/run/docker.sock gives the container control of the host; agents refuse it unless started with berth-agent run --allow-host-control-mounts (config/deploy.yml:12)',
    ]);
    assert.equal(await bad('volumes:\n  - /var/lib/berth:/x\n'), "volumes/0: mounting /var/lib/berth is refused by Berth's guardrails: it would give the container the host (config/deploy.yml:12)");
    assert.deepEqual((await good('volumes:\n  - /data/app:/app/data\n')).config.volumes, ['/data/app:/app/data']);
  });

  it('commands only a host shell would understand', async () => {
    assert.deepEqual((await good('', BASE.replace('cmd: bin/web', `cmd: sh -c 'bin/web | tee log'`))).config.roles[0]?.cmd, ['sh', '-c', 'bin/web | tee log']);
    assert.equal(
      await bad('', BASE.replace('cmd: bin/web', 'cmd: bin/web | tee log')),
      `servers/web/cmd: uses "|" outside quotes, which the host shell interpreted under Kamal; run it in the container with sh -c '…' (config/deploy.yml:7)`,
    );
    assert.match(await bad('', BASE.replace('cmd: bin/web', 'cmd: bin/web $PORT')), /^servers\/web\/cmd: uses \$ outside quotes/);
  });

  it('env secrets, accessories placement, role names, service names and ERB', async () => {
    assert.deepEqual((await good('env:\n  secret:\n    - DB_PASSWORD:MAIN_DB_PASSWORD\n')).config.env.secret, [{ name: 'DB_PASSWORD', secret: 'MAIN_DB_PASSWORD' }]);
    assert.equal(await bad('env:\n  secret:\n    - DB-PASSWORD\n'), 'env/secret/0: should be NAME or NAME:SECRET_NAME (letters, digits, _ and .; a variable name may also hold -) (config/deploy.yml:13)');
    assert.equal(await bad('accessories:\n  redis:\n    image: redis\n    host: 10.0.0.1\n    roles: [web]\n'), 'accessories/redis/roles: specify one of host, hosts, role, roles, tag or tags (config/deploy.yml:15)');
    assert.equal(await bad('accessories:\n  redis:\n    image: redis\n'), 'accessories/redis: specify one of host, hosts, role, roles, tag or tags (config/deploy.yml:12)');
    assert.equal(await bad('accessories:\n  redis:\n    image: redis\n    roles: [workers]\n'), 'accessories/redis/roles: names role workers, which servers does not define (config/deploy.yml:14)');
    assert.equal(await bad('', BASE.replace('service: demo', 'service: my.app')), 'service: should be lowercase letters, digits, - or _ (at most 63, starting with a letter or digit) (config/deploy.yml:1)');
    assert.equal(
      await bad('', BASE.replace('image: acme/demo:latest', 'image: <%= ENV.fetch("BERTH_TEST_NEVER_SET") %>')),
      'ERB <%= ENV.fetch("BERTH_TEST_NEVER_SET") %> failed in Ruby: KeyError: key not found: "BERTH_TEST_NEVER_SET" (config/deploy.yml:2)',
    );
    assert.equal((await good('# password: <%= ENV["X"] %>\n')).config.service, 'demo');
    assert.equal(await bad('minimum_version: 3.0.0\n'), 'minimum_version: requires Kamal 3.0.0; Berth reads configurations of Kamal 2.12.0 (config/deploy.yml:11)');
  });
});
