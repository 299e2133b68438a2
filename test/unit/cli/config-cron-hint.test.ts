// A Kamal-style cron role (cmd runs cron -f, crond or supercronic) still loads
// and plans as a plain role; the loader adds one `hint:` line for it, showing
// the cron: key that would replace it. Fixtures are real public configs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { cronRoleHints, runsCronDaemon } from '../../../cli/config/cron-hint.js';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { appDirs } from '../../support/cli-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/kamal/', import.meta.url));
const app = appDirs();
const hint = (role: string) => `hint: role ${role} runs cron in the container; Berth can schedule its jobs itself: cron: { NAME: { schedule: "...", command: "...", role: ${role} } }`;

describe('Kamal cron roles', () => {
  it("Kamal's documented cron role (basecamp/kamal-site docs/configuration/cron.md) plans as a plain role, with one hint", async () => {
    const { config, hints, warnings } = await loadConfig(join(FIXTURES, 'kamal-docs-cron'));
    assert.deepEqual(warnings, []);
    const cron = planContainers(config).roles.find((r) => r.role === 'cron');
    assert.deepEqual(cron?.cmd, ['bash', '-c', '(env && cat config/crontab) | crontab - && cron -f']);
    assert.deepEqual(cron?.hosts.map((h) => h.host), ['192.168.0.1:7443']);
    assert.equal(config.cron, undefined, 'nothing is scheduled by the agent unless cron: says so');
    assert.deepEqual(hints, [hint('cron')]);
  });

  it('the mysql-cron-app example (env dumped to /etc/environment, then cron -f) gets the same hint, for its cron role only', async () => {
    const { hints } = await loadConfig(join(FIXTURES, 'mysql-cron-app'), undefined, 'staging');
    assert.deepEqual(hints, [hint('cron')]);
  });

  it('recognises supercronic and Alpine crond roles, as public configs write them', async () => {
    // `cmd: supercronic /app/crontab` with `proxy: { roles: [] }` is how public Kamal notes write
    // a supercronic role (found with find_string "cmd: supercronic"); Berth's role proxy is `proxy: false`.
    const yml = 'service: demo\nimage: acme/demo\nservers:\n  web:\n    - 203.0.113.10\n  cron:\n    hosts: [203.0.113.20]\n    cmd: supercronic /app/crontab\n    proxy: false\nproxy:\n  host: demo.example.com\n';
    const { hints, config } = await loadConfig(app({ 'deploy.yml': yml }));
    assert.deepEqual(config.roles.find((r) => r.name === 'cron')?.cmd, ['supercronic', '/app/crontab']);
    assert.deepEqual(hints, [hint('cron')]);
    // Kamal's docs: "in Alpine it is named crond".
    assert.equal(runsCronDaemon(['crond', '-f', '-l', '2']), true);
    assert.equal(runsCronDaemon(['/usr/local/bin/supercronic', '-json', '/app/crontab']), true);
    assert.equal(runsCronDaemon(['sh', '-c', "echo '0 8 * * * php send.php' | crontab - && cron -f"]), true);
  });

  it('gives no hint for other commands, or for a role that only edits a crontab', async () => {
    for (const cmd of [['bin/jobs'], ['crontab', '-l'], ['bin/cronjob', '-f'], ['bin/rails', 'cron:run'], undefined]) assert.equal(runsCronDaemon(cmd), false, String(cmd));
    const { hints } = await loadConfig(join(FIXTURES, 'postgres-app'));
    assert.deepEqual(hints, []);
    assert.deepEqual(cronRoleHints({ roles: [] }), []);
  });
});
