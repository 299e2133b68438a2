// Error pages in a router with --workers 2 (docs/router.md "Workers"): once
// PUT /error-pages answers, every worker holds the page, so the table naming
// it serves the app's page on every new connection; a worker started later
// (one killed and replaced) gets the pages with its init.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { errorPageHash } from '../../../shared/error-pages.js';
import { freePort, routeSet, send, startRouterProcess, tempDir, type RouterProcess } from '../../support/router-fixtures.js';
import { waitFor } from '../../support/wait.js';

const PAGE = '<h1>Back in a moment</h1>';
let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let deadTarget: string;
const client = () => createRouterClient(router.socketPath, { timeoutMs: 20_000 });
const burst = (n: number) => Promise.all(Array.from({ length: n }, () => send(router.port, 'demo.test', '/')));
const workerPids = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

before(async () => {
  dir = await tempDir();
  deadTarget = `127.0.0.1:${await freePort()}`;
  router = await startRouterProcess(dir.path, undefined, { extraArgs: ['--workers', '2'] });
});
after(async () => {
  if (router.child.exitCode === null) router.child.kill('SIGKILL');
  await router.exited;
  await dir.remove();
});

test("both workers serve the app's page once the page and then the table were sent", async () => {
  await client().putErrorPage(errorPageHash(PAGE), PAGE);
  await client().putRoutes(routeSet(1, [{ target: deadTarget, error_pages: { '502': errorPageHash(PAGE) } }]));
  const answers = await burst(30);
  assert.deepEqual([...new Set(answers.map((a) => `${a.status} ${a.body}`))], [`502 ${PAGE}`]);
  await assert.rejects(client().putRoutes(routeSet(2, [{ target: deadTarget, error_pages: { '503': errorPageHash('other') } }])), /was not sent to the router/);
  assert.equal((await client().getRoutes()).version, 1);
});

test('a worker started after the page was sent serves it too', async () => {
  const victim = workerPids(router.child.pid ?? 0)[0]!;
  process.kill(victim, 'SIGKILL');
  await waitFor('a new worker', () => {
    const now = workerPids(router.child.pid ?? 0);
    return now.length === 2 && !now.includes(victim);
  });
  await waitFor('the new worker to listen', () => /worker=3 started/.test(router.stderr()));
  assert.deepEqual([...new Set((await burst(30)).map((a) => `${a.status} ${a.body}`))], [`502 ${PAGE}`]);
});
