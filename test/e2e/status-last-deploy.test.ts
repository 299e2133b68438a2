// `deploy status` reports the newest deploy as the agent recorded it: the state
// of a deploy still under way, and a failed push as failed, never as DONE.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { waitForFile } from '../support/berth-host.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import type { LastDeploy } from '../../shared/service-detail.js';

let e: E2eApp;

before(async () => {
  // Every deploy stops at STARTED until the test lets it go on.
  e = await setupApp('laststatus', { agentEnv: { BERTH_TEST_PAUSE_AT: 'STARTED' } });
});

after(async () => e?.teardown());

interface StatusJson { servers: Array<{ host: string; service: { current: { version: string } | null; last_deploy?: LastDeploy | null } | null }> }

async function status(): Promise<{ table: string; json: StatusJson }> {
  const plain = await e.app.run(['status']);
  assert.equal(plain.code, 0, explain(plain, e));
  const json = await e.app.run(['status', '--json']);
  assert.equal(json.code, 0, explain(json, e));
  return { table: plain.stdout, json: JSON.parse(json.stdout) as StatusJson };
}

/** The LAST DEPLOY cell of the only server's row. */
function lastDeployCell(table: string): string {
  const [header, row] = table.split('\n');
  return row!.slice(header!.indexOf('LAST DEPLOY')).trim();
}

async function pushPastPause(version: string): Promise<Awaited<ReturnType<E2eApp['push']>>> {
  const paused = e.hosts[0]!.pausedAt('STARTED');
  const push = e.push(version);
  await waitForFile(paused);
  rmSync(paused);
  return push;
}

test('during an unfinished deploy, status shows its state and version, plain and --json', async () => {
  const paused = e.hosts[0]!.pausedAt('STARTED');
  const push = e.push('r1');
  await waitForFile(paused);
  try {
    const { table, json } = await status();
    assert.equal(lastDeployCell(table), 'STARTED (r1)');
    const server = json.servers[0]!.service!;
    assert.equal(server.current, null);
    assert.deepEqual([server.last_deploy?.version, server.last_deploy?.state, server.last_deploy?.error], ['r1', 'STARTED', null]);
  } finally {
    rmSync(paused, { force: true });
  }
  const r = await push;
  assert.equal(r.code, 0, explain(r, e));
  const { table, json } = await status();
  assert.equal(lastDeployCell(table), 'DONE');
  assert.equal(json.servers[0]!.service!.last_deploy?.state, 'DONE');
});

test('after a push whose health check fails, status shows it reverted, not DONE, plain and --json', async () => {
  e.configure('unhealthy', 'x-note: health check fails\n');
  e.app.writeConfig(readFileSync(`${e.app.dir}/deploy.yml`, 'utf8').replace(/deploy_timeout: \d+/, 'deploy_timeout: 5'));
  const r = await pushPastPause('r-bad');
  assert.notEqual(r.code, 0, explain(r, e));

  const { table, json } = await status();
  assert.match(table.split('\n')[1]!, /^\S+\s+r1\s/, 'r1 still serves');
  assert.equal(lastDeployCell(table), 'REVERTED (r-bad)');
  const server = json.servers[0]!.service!;
  assert.equal(server.current?.version, 'r1');
  assert.equal(server.last_deploy?.version, 'r-bad');
  assert.equal(server.last_deploy?.state, 'REVERTED');
  assert.match(server.last_deploy?.error ?? '', /health check/i);
});
