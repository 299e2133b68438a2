import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();

const VALID = `service: demo
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  - 10.0.0.1
  - 10.0.0.2:8443
proxy:
  host: demo.example.com
  app_port: 8080
`;

async function configError(yaml: string, file = 'deploy.yml'): Promise<string> {
  const cwd = app({ [file]: yaml });
  const err = await loadConfig(cwd).then(
    () => assert.fail('expected a config error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
  return err.message;
}

describe('deploy.yml loading', () => {
  it('loads a minimal file with Kamal defaults', async () => {
    const { config, appDir } = await loadConfig(app({ 'deploy.yml': VALID }));
    assert.equal(config.service, 'demo');
    assert.deepEqual(config.servers, [
      { host: '10.0.0.1', port: 7443 },
      { host: '10.0.0.2', port: 8443 },
    ]);
    const web = config.roles[0];
    assert.equal(config.roles.length, 1);
    assert.equal(web?.name, 'web');
    assert.deepEqual(web?.proxy, { hosts: ['demo.example.com'], app_port: 8080, ssl: false, healthcheck: { path: '/up', interval: 1, timeout: 5 }, response_timeout: 30 });
    assert.equal(config.deploy_timeout, 30);
    assert.equal(config.drain_timeout, 30);
    assert.equal(config.readiness_delay, 7);
    assert.equal(config.retain_containers, 5);
    assert.deepEqual(config.env, { clear: {}, secret: [] });
    assert.equal(config.stop_timeout, 10);
    assert.ok(appDir.length > 0);
  });

  it('finds config/deploy.yml, uses agent.port, the role map form, env as a plain map, and ignores x- keys', async () => {
    const yaml = `x-common: &common
  path: /healthz
service: demo
image: nginx
agent:
  port: 9443
servers:
  web:
    hosts:
      - app1.internal
proxy:
  hosts: [a.example.com, B.example.com]
  healthcheck: *common
env:
  RAILS_ENV: production
  WORKERS: 4
`;
    const { config } = await loadConfig(app({ 'config/deploy.yml': yaml }));
    assert.deepEqual(config.servers, [{ host: 'app1.internal', port: 9443 }]);
    assert.deepEqual(config.roles[0]?.proxy?.hosts, ['a.example.com', 'b.example.com']);
    assert.equal(config.roles[0]?.proxy?.healthcheck.path, '/healthz');
    assert.deepEqual(config.env.clear, { RAILS_ENV: 'production', WORKERS: '4' });
    const list = await loadConfig(app({ 'deploy.yml': VALID.replace('servers:\n  - 10.0.0.1\n  - 10.0.0.2:8443', 'servers:\n  web: [10.0.0.9]') }));
    assert.deepEqual(list.config.servers, [{ host: '10.0.0.9', port: 7443 }]);
  });

  it('reads -c FILE and env: { clear: ... }', async () => {
    const cwd = app({ 'elsewhere/prod.yml': VALID + 'env:\n  clear:\n    A: "1"\n' });
    const { config } = await loadConfig(cwd, 'elsewhere/prod.yml');
    assert.deepEqual(config.env.clear, { A: '1' });
    await assert.rejects(loadConfig(cwd, 'missing.yml'), /config file missing.yml not found/);
  });

  it('says where it looked when there is no deploy.yml', async () => {
    await assert.rejects(loadConfig(app({})), (e: unknown) => e instanceof ConfigError && /looked for deploy.yml and config\/deploy.yml/.test(e.message));
  });

  it('names the key path and line of a wrong type', async () => {
    const message = await configError(VALID.replace('app_port: 8080', 'app_port: "eighty"'));
    assert.equal(message, 'proxy/app_port: should be a number (deploy.yml:8)');
    assert.match(await configError(VALID.replace('service: demo', 'service: [demo]')), /^service: should be a string \(deploy\.yml:1\)$/);
    assert.match(await configError(VALID + 'deploy_timeout: 1.5\n'), /^deploy_timeout: should be an integer \(deploy\.yml:9\)$/);
    assert.match(await configError(VALID + 'retain_containers: 0\n'), /^retain_containers: should be at least 1 \(deploy\.yml:9\)$/);
  });

  it('names unknown keys with their path and line, at any depth', async () => {
    assert.equal(await configError(VALID + 'sshkt: {}\n'), 'sshkt: unknown key (deploy.yml:9)');
    assert.equal(await configError(VALID.replace('  app_port: 8080', '  app_port: 8080\n  sll: true')), 'proxy/sll: unknown key (deploy.yml:9)');
    assert.equal(
      await configError(VALID.replace('  app_port: 8080', '  healthcheck:\n    path: /up\n    intervl: 2')),
      'proxy/healthcheck/intervl: unknown key (deploy.yml:10)',
    );
    assert.equal(await configError(VALID + 'env:\n  clear: {}\n  secrt: [DB_PASSWORD]\n'), 'env/secrt: unknown key (with clear/secret, every plain variable goes under clear) (deploy.yml:11)');
  });

  it('refuses host and hosts together; a proxy without a host loads (Kamal routes everything to it)', async () => {
    assert.equal(await configError(VALID.replace('  host: demo.example.com', '  host: a.example.com\n  hosts: [b.example.com]')), "proxy/hosts: specify one of 'host' or 'hosts', not both (deploy.yml:8)");
    const hostless = await loadConfig(app({ 'deploy.yml': VALID.replace('  host: demo.example.com\n', '') }));
    assert.deepEqual(hostless.config.roles[0]?.proxy?.hosts, []);
    const noProxy = await loadConfig(app({ 'deploy.yml': VALID.replace(/proxy:[\s\S]*$/, '') }));
    assert.equal(noProxy.config.roles[0]?.proxy?.app_port, 80);
  });

  it('requires service and image', async () => {
    assert.equal(await configError(VALID.replace('service: demo\n', '')), 'service: is required (deploy.yml)');
    assert.equal(await configError(VALID.replace('image: 127.0.0.1:5000/berth-test/web:latest\n', '')), 'image: is required (deploy.yml)');
    assert.match(await configError(''), /the file is empty/);
  });

  it('refuses bad server entries with their index and line', async () => {
    assert.match(await configError(VALID.replace('  - 10.0.0.2:8443', '  - "10.0.0.2:99999"')), /^servers\/1: "10\.0\.0\.2:99999" is not HOST or HOST:PORT \(deploy\.yml:5\)$/);
    assert.match(await configError(VALID.replace('  - 10.0.0.2:8443', '  - "bad host!"')), /^servers\/1: "bad host!" is not HOST or HOST:PORT/);
    assert.match(await configError(VALID.replace('  - 10.0.0.2:8443', '  - 10.0.0.1')), /^servers\/1: 10\.0\.0\.1:7443 is listed twice \(deploy\.yml:5\)$/);
    assert.match(await configError(VALID.replace('servers:\n  - 10.0.0.1\n  - 10.0.0.2:8443', 'servers: []')), /^servers: should list at least one server \(deploy\.yml:3\)$/);
    assert.match(await configError(VALID.replace('servers:\n  - 10.0.0.1\n  - 10.0.0.2:8443', 'servers:\n  job: [10.0.0.1]')), /^servers: has no web role \(the primary_role\); add it or set primary_role \(deploy\.yml:3\)$/);
  });

  it('validates service names and image references', async () => {
    assert.match(await configError(VALID.replace('service: demo', 'service: Demo_App!')), /^service: should be lowercase letters/);
    assert.match(await configError(VALID.replace('image: 127.0.0.1:5000/berth-test/web:latest', 'image: "Web App"')), /^image: invalid image reference "Web App"/);
  });

  it('reports YAML syntax errors with a line, and several problems at once', async () => {
    assert.match(await configError('service: demo\nimage: [unclosed\n'), /^invalid YAML: .*\(deploy\.yml:\d+\)$/);
    assert.match(await configError('service: demo\nservice: again\n'), /^invalid YAML: .*\(deploy\.yml:2\)$/);
    const many = await configError(VALID + 'a: 1\nb: 2\nc: 3\nd: 4\n');
    assert.equal(many, '4 problems in deploy.yml:\n  a: unknown key (deploy.yml:9)\n  b: unknown key (deploy.yml:10)\n  c: unknown key (deploy.yml:11)\n  d: unknown key (deploy.yml:12)');
  });
});
