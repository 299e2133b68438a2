// accessories: files and directories in Kamal's string and map forms, and the
// keys Berth cannot apply warned about with their file:line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { configView } from '../../../cli/config/view.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs();

// The accessory's keys start on line 12.
const BASE = `service: demo
image: acme/demo:latest
servers:
  web:
    - 10.0.0.1
proxy:
  host: demo.example.com
accessories:
  db:
    image: mysql:8.0
    host: 10.0.0.1
`;

const load = (extra: string) => loadConfig(app({ 'config/deploy.yml': BASE + extra, 'config/my.cnf': '[mysqld]\n' }));
async function bad(extra: string): Promise<string> {
  const err = await load(extra).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}

describe('accessory files and directories', () => {
  it('reads both forms: mode defaults to Kamal 755, map mode/owner kept, directories as name or host path', async () => {
    const { config, warnings } = await load(`    files:
      - config/my.cnf:/etc/mysql/my.cnf
      - local: config/my.cnf
        remote: /etc/mysql/conf.d/x.cnf
        mode: "0600"
        owner: "999:999"
    directories:
      - data:/var/lib/mysql
      - local: /srv/mysql-logs
        remote: /var/log/mysql
`);
    assert.deepEqual(warnings, []);
    const [db] = planContainers(config).accessories;
    assert.deepEqual(db?.files.map(({ path: _path, ...f }) => f), [
      { local: 'config/my.cnf', remote: '/etc/mysql/my.cnf', mode: '0755' },
      { local: 'config/my.cnf', remote: '/etc/mysql/conf.d/x.cnf', mode: '0600', owner: '999:999' },
    ]);
    assert.match(db?.files[0]?.path ?? '', /\/config\/my\.cnf$/);
    assert.deepEqual(db?.directories, [{ source: 'data', target: '/var/lib/mysql' }, { source: '/srv/mysql-logs', target: '/var/log/mysql' }]);
    const view = configView(config, []) as { accessories: Array<{ files: string[] }> };
    assert.deepEqual(view.accessories[0]?.files, ['config/my.cnf → /etc/mysql/my.cnf (0755)', 'config/my.cnf → /etc/mysql/conf.d/x.cnf (0600, owner 999:999)']);
  });

  it('refuses a relative container path, a user name as owner, a nested directory name and a host path that gives away the host', async () => {
    assert.equal(await bad('    files:\n      - config/my.cnf:etc/my.cnf\n'), 'accessories/db/files/0: etc/my.cnf should be an absolute path in the container (config/deploy.yml:13)');
    assert.equal(await bad('    files:\n      - local: config/my.cnf\n        remote: /etc/my.cnf\n        owner: mysql:mysql\n'),
      'accessories/db/files/0/owner: should be a numeric UID or UID:GID (the ids the image uses for that user), not "mysql:mysql" (config/deploy.yml:15)');
    assert.equal(await bad('    directories:\n      - data/mysql:/var/lib/mysql\n'),
      'accessories/db/directories/0: data/mysql should be a name (letters, digits, ., _, -: a directory the agent keeps for the accessory) or an absolute host path (config/deploy.yml:13)');
    assert.equal(await bad('    files:\n      - config/my.cnf:/etc/my.cnf\n      - config/my.cnf:/etc/my.cnf\n'), 'accessories/db/files/1: /etc/my.cnf is mounted twice (config/deploy.yml:14)');
    assert.equal(await bad('    directories:\n      - /var/run/docker.sock:/s\n'), "accessories/db/directories/0: mounting /var/run/docker.sock is refused by Berth's guardrails: it would give the container the host (config/deploy.yml:13)");
  });

  it('warns that mount options and directory mode/owner are not in force', async () => {
    const { warnings } = await load('    files:\n      - config/my.cnf:/etc/my.cnf:ro\n    directories:\n      - local: data\n        remote: /var/lib/mysql\n        mode: "0750"\n');
    assert.deepEqual(warnings, [
      'warning: accessories/db/files/0: options ro: not in force yet: Berth passes no mount options for accessory files (config/deploy.yml:13)',
      'warning: accessories/db/directories/0: mode: not in force: the agent creates the directory with its own defaults (config/deploy.yml:15)',
    ]);
  });
});

describe('accessory keys Berth cannot apply', () => {
  it('registry is applied as Kamal does (server joined to the image); another registry\'s login, network and service are warned about', async () => {
    const onApp = await loadConfig(app({ 'config/deploy.yml': BASE.replace('servers:', 'registry:\n  server: ghcr.io\n  username: u\n  password: [REG]\nservers:') + '    registry:\n      server: ghcr.io\n      username: u\n      password: [REG]\n' }));
    assert.equal(onApp.config.accessories[0]?.image, 'ghcr.io/mysql:8.0');
    assert.deepEqual(onApp.warnings, []);
    const { config, warnings } = await load('    registry:\n      server: quay.io\n      username: bot\n      password: [QUAY]\n    network: custom\n    proxy:\n      host: db.example.com\n    service: mysql\n');
    assert.equal(config.accessories[0]?.image, 'quay.io/mysql:8.0');
    assert.deepEqual(warnings, [
      "warning: accessories/db/registry: login not in force: the agent logs in only to the app's registry (docker.io); it pulls quay.io/mysql:8.0 without one, which works for a public image (config/deploy.yml:12)",
      'warning: accessories/db/network: not in force: the agent attaches accessories to its own network, where the app reaches this one as demo-db (config/deploy.yml:16)',
      'warning: accessories/db/service: not in force: the agent names the container itself and the app reaches it as demo-db (config/deploy.yml:19)',
    ]);
    assert.equal(config.accessories[0]?.service, 'demo-db');
    // The control: a registry entry is still checked like the top-level one.
    assert.equal(await bad('    registry:\n      server: "bad server!"\n'), 'accessories/db/registry/server: should be a registry host like ghcr.io or registry.example.com:5000 (config/deploy.yml:13)');
  });
});
