// Kamal's error_pages_path against the real CLI, agent, router, Docker and
// registry: the app's public/502.html and 503.html are read on the deploying
// machine, signed into the release and served by the router for its own
// answers: 502 once the app's container is stopped, the maintenance 503 with
// the message in place of {{ .Message }}. A router that lost its state gets
// the pages again from the agent, also from one restarted meanwhile. A bad page stops the push before any server
// is contacted.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
const PAGE_502 = '<!doctype html>\n<h1>demo is restarting</h1>\n';
const PAGE_503 = '<main>{{ if .Message }}<p>{{ .Message }}</p>{{ else }}<p>Down for a moment</p>{{ end }}</main>\n';

before(async () => {
  e = await setupApp('errpages');
  mkdirSync(join(e.app.dir, 'public'));
  writeFileSync(join(e.app.dir, 'public', '502.html'), PAGE_502);
  writeFileSync(join(e.app.dir, 'public', '503.html'), PAGE_503);
  writeFileSync(join(e.app.dir, 'public', 'robots.txt'), 'User-agent: *\n');
  e.configure('v1', 'error_pages_path: public\n');
});

after(async () => e?.teardown());

const page = (path = '/') => e.hosts[0]!.get(e.hostHeader, path);

test("the router answers with the app's 502 page once its container is stopped", async () => {
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await page(), { status: 200, body: 'v1\n' });
  const running = (await e.containers()).filter((c) => c.state === 'running');
  assert.equal(running.length, 1);
  const stopped = await docker(e.hosts[0]!.engine.host, ['stop', '-t', '1', running[0]!.name]);
  assert.equal(stopped.code, 0, stopped.stderr);
  const answer = await waitFor('the 502 page', async () => {
    const a = await page();
    return a.status === 502 ? a : undefined;
  }, 30_000, { intervalMs: 200 });
  assert.equal(answer.body, PAGE_502);
  assert.equal(answer.status, 502);
  // Started again, the container may get another address: a new release puts the app back.
  const again = await e.push('r2');
  assert.equal(again.code, 0, explain(again, e));
  assert.deepEqual(await page(), { status: 200, body: 'v1\n' });
});

test('maintenance answers 503 with the message in the app\'s page; a router that lost its state gets the pages again', async () => {
  const r = await e.app.run(['maintenance', '--message', 'Back at <5>']);
  assert.equal(r.code, 0, explain(r, e));
  assert.deepEqual(await page(), { status: 503, body: '<main><p>Back at &#60;5&#62;</p></main>\n' });
  assert.equal((await page('/up')).status, 200, 'the health path reaches the app');

  const h = e.hosts[0]!;
  await h.killRouter();
  rmSync(join(h.stateDir, 'router'), { recursive: true, force: true });
  await h.startRouter();
  await waitFor('the agent to resend its routes and pages', async () => (await page('/up')).status === 200, 30_000, { intervalMs: 100 });
  assert.deepEqual(await page(), { status: 503, body: '<main><p>Back at &#60;5&#62;</p></main>\n' });

  // A restarted agent learns the pages again from the current release.
  await h.killAgent();
  await h.killRouter();
  rmSync(join(h.stateDir, 'router'), { recursive: true, force: true });
  await h.startRouter();
  await h.startAgent();
  await waitFor('the restarted agent to resend its routes and pages', async () => (await page('/up')).status === 200, 30_000, { intervalMs: 100 });
  assert.deepEqual(await page(), { status: 503, body: '<main><p>Back at &#60;5&#62;</p></main>\n' });

  const live = await e.app.run(['live']);
  assert.equal(live.code, 0, explain(live, e));
  assert.deepEqual(await page(), { status: 200, body: 'v1\n' });
});

test('a page the router could not serve stops the push before any server is contacted', async () => {
  const before = h0Log();
  writeFileSync(join(e.app.dir, 'public', '504.html'), '<p>{{ .Status }}</p>');
  const releases = (await e.containers()).map((c) => c.labels['berth.release']).sort();
  const r = await e.push('r3');
  rmSync(join(e.app.dir, 'public', '504.html'));
  assert.equal(r.code, 2, explain(r, e));
  assert.match(r.stderr, /error_pages_path: public: "504\.html" uses \{\{ \.Status \}\}/);
  assert.equal(h0Log(), before, 'the agent was not asked anything');
  assert.deepEqual((await e.containers()).map((c) => c.labels['berth.release']).sort(), releases);
});

function h0Log(): string {
  return e.hosts[0]!.agentLog();
}
