// deploy stop / start against local HTTPS agents: the signed POSTs go only to
// the servers of the chosen roles and name those roles, a row per host and
// role (and --json), unknown roles/hosts and wildcards refused before any
// server is contacted, and an agent without app.stop.v1 refused by name.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FEATURES } from '../../../shared/version.js';
import { cliRunner, makeCert, startFakeAgent, tempDir, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';

const STOP = '/v1/services/demo/app/stop?destination=';
const START = '/v1/services/demo/app/start?destination=';

function agentRoutes(roles: string[]) {
  return (req: RecordedRequest, res: ServerResponse) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && (req.url === STOP || req.url === START)) {
      const asked = (JSON.parse(req.body.toString() || '{}') as { roles?: string[] }).roles ?? roles;
      const stopped = req.url === STOP;
      return reply(200, { app: { service: 'demo', destination: '', version: 'v7', roles: asked.map((role) => ({ role, stopped, changed: true, containers: [`demo-${role}-v7`] })) } });
    }
    return reply(404, { error: { code: 'not_found', message: `no route for ${req.method} ${req.url}` } });
  };
}

describe('deploy stop and start', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  let web: FakeAgent;
  let jobs: FakeAgent;
  let webHost: string;
  let jobsHost: string;
  const run = cliRunner(dir.path, xdg);
  const posts = (agent: FakeAgent) => agent.requests.filter((r) => r.method === 'POST');
  const config = (webServer: string, jobsServer: string) =>
    writeFileSync(
      join(dir.path, 'deploy.yml'),
      `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n  web:\n    - ${webServer}\n  jobs:\n    hosts:\n      - ${jobsServer}\n    cmd: bin/jobs\nproxy:\n  host: demo.test\n`,
    );

  before(async () => {
    web = await startFakeAgent(makeCert(dir.path, 'web'), { route: agentRoutes(['web']) });
    jobs = await startFakeAgent(makeCert(dir.path, 'jobs'), { route: agentRoutes(['jobs']), features: FEATURES.filter((f) => f !== 'app.stop.v1') });
    webHost = `127.0.0.1:${web.port}`;
    jobsHost = `127.0.0.1:${jobs.port}`;
    config(webHost, jobsHost);
    assert.equal((await run(['keys', 'new'])).code, 0);
    for (const h of [webHost, jobsHost]) assert.equal((await run(['server', 'add', h])).code, 0);
  });
  after(async () => {
    await web.close();
    await jobs.close();
    dir.cleanup();
  });

  it('stop -r web posts {"roles":["web"]} to the web server only; start without -r posts {}', async () => {
    const res = await run(['stop', '-r', 'web']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(posts(jobs), [], 'the jobs server is not asked');
    const [post] = posts(web);
    assert.equal(post?.url, STOP);
    assert.deepEqual(JSON.parse(post?.body.toString() ?? ''), { roles: ['web'] });
    assert.match(String(post?.headers.authorization), /^Berth /);
    assert.match(res.stdout, new RegExp(`${webHost} +web +stopped +stopped v7 \\(demo-web-v7\\)\\n$`));
    const started = await run(['start', '--host', webHost, '--json']);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(posts(web).at(-1)?.url, START);
    assert.deepEqual(JSON.parse(posts(web).at(-1)?.body.toString() ?? ''), {});
    const row = JSON.parse(started.stdout.trim()) as { host: string; app: { roles: Array<{ stopped: boolean }> } };
    assert.equal(row.host, webHost);
    assert.equal(row.app.roles[0]?.stopped, false);
  });

  it('an unknown role or host, or a wildcard, is a usage error and no server is contacted', async () => {
    const before = posts(web).length;
    for (const [args, message] of [
      [['stop', '-r', 'db'], /role db is not in the config/],
      [['stop', '-r', 'web*'], /no wildcards/],
      [['start', '--host', '10.0.0.9'], /--host 10\.0\.0\.9 is not a server of the config/],
      [['stop', '-r', 'jobs', '--host', webHost], /no server of the config runs the chosen roles/],
    ] as const) {
      const res = await run([...args]);
      assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, message);
    }
    assert.equal(posts(web).length, before);
  });

  it('an agent without app.stop.v1 is refused by name and sees no POST; the others still stop', async () => {
    const res = await run(['stop']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, new RegExp(`${jobsHost} +- +failed +error: the agent on ${jobsHost} cannot stop the app \\(it lacks app\\.stop\\.v1\\)`));
    assert.match(res.stdout, new RegExp(`${webHost} +web +stopped`));
    assert.match(res.stderr, new RegExp(`hint: upgrade the agent on ${jobsHost.replace(/\./g, '\\.')}`));
    assert.deepEqual(posts(jobs), []);
  });

  it('Kamal\'s `app stop -r web` and an alias run the same', async () => {
    writeFileSync(join(dir.path, 'deploy.yml'), `service: demo\nimage: 127.0.0.1:5000/demo:latest\nservers:\n  web:\n    - ${webHost}\nproxy:\n  host: demo.test\naliases:\n  halt: app stop\n`);
    try {
      const kamal = await run(['app', 'stop', '-r', 'web']);
      assert.equal(kamal.code, 0, kamal.stderr);
      assert.deepEqual(JSON.parse(posts(web).at(-1)?.body.toString() ?? ''), { roles: ['web'] });
      const alias = await run(['halt']);
      assert.equal(alias.code, 0, alias.stderr);
      assert.equal(posts(web).at(-1)?.url, STOP);
      assert.deepEqual(JSON.parse(posts(web).at(-1)?.body.toString() ?? ''), {});
    } finally {
      config(webHost, jobsHost);
    }
  });
});
