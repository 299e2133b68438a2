// The real-world Kamal configs in test/fixtures/kamal load unchanged and plan
// the containers Kamal would run (minus SSH), with the warnings each deserves.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { ConfigError } from '../../../shared/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/kamal/', import.meta.url));
const fixture = (name: string) => join(FIXTURES, name);

const BUILDER = 'ignored: Berth does not build images; build and push the image first (e.g. in CI) and deploy resolves its tag to a digest';
const SSH = 'ignored: Berth does not connect to servers over SSH; each server runs an agent that pulls the release over HTTPS';
const DEFAULT_HEALTHCHECK = { path: '/up', interval: 1, timeout: 5 };
const MYSQL_APP_ENV = {
  clear: { TZ: 'Asia/Tokyo', DB_HOST: 'myapp-db', DB_USER: 'root' },
  secretNames: { RAILS_MASTER_KEY: 'RAILS_MASTER_KEY', DB_PASSWORD: 'DB_PASSWORD' },
};
const SYSLOG = {
  driver: 'syslog',
  options: { 'syslog-address': 'udp://127.0.0.1:514', 'syslog-facility': 'daemon', tag: 'web', 'syslog-format': 'rfc5424' },
};

describe('Kamal example: postgres-app', () => {
  it('plans one proxied web container with clear and secret env, and a postgres accessory', async () => {
    const { config, warnings } = await loadConfig(fixture('postgres-app'));
    assert.deepEqual(warnings, [`warning: builder: ${BUILDER} (config/deploy.yml:20)`]);
    const plan = planContainers(config);
    assert.equal(plan.image, 'shuirong/test');
    assert.deepEqual(plan.roles.map((r) => r.role), ['web']);
    const web = plan.roles[0];
    assert.equal(web?.container, 'test-web');
    assert.deepEqual(web?.hosts.map((h) => h.host), ['185.194.140.87:7443']);
    assert.equal(web?.cmd, null);
    assert.deepEqual(web?.env, { clear: { PHX_HOST: '0.0.0.0' }, secretNames: { XAI_API_KEY: 'XAI_API_KEY', DATABASE_URL: 'DATABASE_URL' } });
    assert.deepEqual(web?.proxy, { hosts: ['iyaku.ai'], app_port: 8080, ssl: true, forward_headers: true, healthcheck: DEFAULT_HEALTHCHECK, response_timeout: 30 });
    assert.deepEqual(web?.logging, { options: { 'max-size': '10m' } });
    assert.deepEqual(config.aliases, { shell: 'app exec --interactive --reuse "bash"', logs: 'app logs' });
    assert.deepEqual(config.registry, { username: { literal: 'xxxx' }, password: { secret: 'KAMAL_REGISTRY_PASSWORD' } });
    assert.deepEqual(plan.accessories, [
      {
        name: 'postgres',
        service: 'test-postgres',
        image: 'postgres:15',
        hosts: ['185.194.140.87'],
        cmd: null,
        port: '127.0.0.1:5432:5432',
        env: { clear: { POSTGRES_USER: 'postgres', POSTGRES_DB: 'production_db' }, secretNames: { POSTGRES_PASSWORD: 'POSTGRES_PASSWORD' } },
        labels: {},
        options: {},
        files: [],
        directories: [{ source: 'data', target: '/var/lib/postgresql/data' }],
        volumes: [],
      },
    ]);
    assert.deepEqual(plan.secretNames, ['DATABASE_URL', 'KAMAL_REGISTRY_PASSWORD', 'POSTGRES_PASSWORD', 'XAI_API_KEY']);
  });
});

describe('Kamal example: gitlab-ci-app', () => {
  it('plans a web container on a DNS-named host from a private registry, ignoring the builder', async () => {
    const { config, warnings } = await loadConfig(fixture('gitlab-ci-app'));
    assert.deepEqual(warnings, [`warning: builder: ${BUILDER} (config/deploy.yml:19)`]);
    const plan = planContainers(config);
    // The image already names registry.server, so it is not prefixed a second time.
    assert.equal(plan.image, 'registry.gitlab.com/example/demo');
    assert.deepEqual(config.registry, { server: 'registry.gitlab.com', username: { literal: 'gitlab-ci-token' }, password: { secret: 'KAMAL_REGISTRY_PASSWORD' } });
    const [web] = plan.roles;
    assert.deepEqual(web?.hosts, [{ host: 'demo.exitsoftware.io:7443', tags: [], env: { clear: {}, secretNames: { RAILS_MASTER_KEY: 'RAILS_MASTER_KEY' } } }]);
    assert.deepEqual(web?.proxy, { hosts: ['demo.exitsoftware.io'], app_port: 80, ssl: true, healthcheck: DEFAULT_HEALTHCHECK, response_timeout: 30 });
    assert.deepEqual(plan.accessories, []);
    assert.deepEqual(plan.secretNames, ['KAMAL_REGISTRY_PASSWORD', 'RAILS_MASTER_KEY']);
  });
});

describe('Kamal example: mysql-cron-app (roles and destinations)', () => {
  it('staging: web, job and cron on one host; only web is proxied; the cron command is split as the host shell would', async () => {
    const { config, warnings, files } = await loadConfig(fixture('mysql-cron-app'), undefined, 'staging');
    assert.deepEqual(files, ['config/deploy.yml', 'config/deploy.staging.yml']);
    assert.deepEqual(warnings, [
      `warning: builder: ${BUILDER} (config/deploy.yml:26)`,
      `warning: ssh: ${SSH} (config/deploy.yml:40)`,
      'warning: accessories/db/options/cap-add: SYS_NICE is added only on agents that allow it (berth-agent run --allow-cap SYS_NICE); others refuse the release (config/deploy.yml:61)',
    ]);
    const plan = planContainers(config);
    assert.equal(plan.destination, 'staging');
    assert.deepEqual(
      plan.roles.map((r) => [r.role, r.container, r.hosts.map((h) => h.host), r.cmd]),
      [
        ['cron', 'myapp-cron-staging', ['192.168.0.10:7443'], ['bash', '-c', `eval $(printenv | awk -F= '{print "export " "\\""$1"\\"""=""\\""$2"\\"" }' >> /etc/environment); cat config/crontab | crontab - && cron -f`]],
        ['job', 'myapp-job-staging', ['192.168.0.10:7443'], ['bin/jobs']],
        ['web', 'myapp-web-staging', ['192.168.0.10:7443'], ['bin/rails', 's']],
      ],
    );
    for (const role of plan.roles) {
      assert.deepEqual(role.env, MYSQL_APP_ENV, role.role);
      assert.deepEqual(role.logging, SYSLOG, role.role);
      assert.deepEqual(role.volumes, ['/data/storage:/app/storage'], role.role);
      assert.equal(role.proxy === null, role.role !== 'web', role.role);
    }
    const web = plan.roles.find((r) => r.role === 'web');
    assert.deepEqual(web?.proxy, { hosts: ['myapp.host'], app_port: 3000, ssl: true, healthcheck: DEFAULT_HEALTHCHECK, response_timeout: 30, buffering: { max_request_body: 10_000_000 } });
    const [db] = plan.accessories;
    assert.deepEqual(db, {
      name: 'db',
      service: 'myapp-db',
      image: 'mysql:8.0',
      hosts: ['myapp.host'],
      cmd: null,
      port: '127.0.0.1:3306:3306',
      env: { clear: { MYSQL_ROOT_HOST: '%' }, secretNames: { MYSQL_ROOT_PASSWORD: 'MYSQL_ROOT_PASSWORD' } },
      labels: {},
      options: { 'cap-add': 'sys_nice' },
      // Kamal chmods uploaded files to 755; the loader resolves them against the app directory.
      files: [
        { local: 'config/mysql/production.cnf', path: join(fixture('mysql-cron-app'), 'config/mysql/production.cnf'), remote: '/etc/mysql/my.cnf', mode: '0755' },
        { local: 'db/production.sql', path: join(fixture('mysql-cron-app'), 'db/production.sql'), remote: '/docker-entrypoint-initdb.d/setup.sql', mode: '0755' },
      ],
      directories: [{ source: '/data/mysql', target: '/var/lib/mysql' }, { source: 'logs', target: '/var/log/mysql' }],
      volumes: [],
    });
    assert.deepEqual(plan.secretNames, ['DB_PASSWORD', 'KAMAL_REGISTRY_PASSWORD', 'MYSQL_ROOT_PASSWORD', 'RAILS_MASTER_KEY']);
  });

  it('production: role maps merge key by key (cmd from the base, hosts from the destination); SSL on two hosts is a warning', async () => {
    const { config, warnings } = await loadConfig(fixture('mysql-cron-app'), undefined, 'production');
    assert.equal(warnings.length, 4);
    assert.equal(
      warnings[3],
      'warning: servers/web: role web serves SSL on 2 servers; automatic certificates need each host name to reach the server asking for it (Kamal refuses this unless proxy/ssl names a certificate) (config/deploy.production.yml:2)',
    );
    const plan = planContainers(config);
    assert.deepEqual(
      plan.roles.map((r) => [r.role, r.container, r.hosts.map((h) => h.host), r.cmd?.[0]]),
      [
        ['cron', 'myapp-cron-production', ['192.168.1.12:7443'], 'bash'],
        ['job', 'myapp-job-production', ['192.168.1.12:7443'], 'bin/jobs'],
        ['web', 'myapp-web-production', ['192.168.1.10:7443', '192.168.1.11:7443'], 'bin/rails'],
      ],
    );
    assert.deepEqual(config.servers.map((s) => s.host), ['192.168.1.12', '192.168.1.10', '192.168.1.11']);
  });

  it('without -d the roles have no hosts: the error names the key and line and lists the destinations', async () => {
    const err = await loadConfig(fixture('mysql-cron-app')).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /^3 problems in config\/deploy\.yml:\n  servers\/web: no servers specified for the web primary role \(are its hosts in a destination file\? pass -d DESTINATION\) \(config\/deploy\.yml:6\)\n  /);
    assert.equal(err.hint, 'destinations with a file: production, staging (pass -d DESTINATION)');
  });
});

describe('Kamal example: kamal1-app', () => {
  it('refuses the Kamal 1 keys, naming the Kamal 2 / Berth key for each', async () => {
    const err = await loadConfig(fixture('kamal1-app')).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      '2 problems in config/deploy.yml:\n' +
        '  traefik: is a Kamal 1 key: Kamal 2 replaced Traefik with kamal-proxy, and Berth routes with its own router; remove traefik: and set proxy: (host, app_port, ssl) (config/deploy.yml:29)\n' +
        '  healthcheck: is a Kamal 1 key: use proxy/healthcheck (path, interval, timeout in seconds); port becomes proxy/app_port and max_attempts is covered by deploy_timeout (config/deploy.yml:34)',
    );
  });
});
