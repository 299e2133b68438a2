// What happens to traffic at a switch: in-flight requests finish on the old
// release, and a release that never gets healthy never receives traffic.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { docker } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';

let e: E2eApp;

before(async () => {
  e = await setupApp('drain');
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
});

after(async () => e?.teardown());

function slowGet(seconds: number): Promise<{ body: string; endedAt: number }> {
  const h = e.hosts[0]!;
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: h.ip, port: h.httpPort, path: `/cgi-bin/slow?${seconds}`, headers: { host: e.hostHeader }, agent: false },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ body, endedAt: Date.now() }));
      },
    );
    req.on('error', reject);
  });
}

async function finishedAt(name: string): Promise<number> {
  const r = await docker(e.hosts[0]!.engine.host, ['inspect', '-f', '{{.State.FinishedAt}}', name]);
  return Date.parse(r.stdout.trim());
}

test('a slow request in flight at the switch completes with the old answer; the old container stops after it', async () => {
  const slow = slowGet(6);
  await new Promise((r) => setTimeout(r, 1000));
  e.configure('v2');
  const r = await e.push('r2');
  assert.equal(r.code, 0, explain(r, e));
  const done = await slow;
  assert.equal(done.body, 'v1\n');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');

  const old = (await e.containers()).find((c) => c.labels['berth.release'] === 'r1');
  assert.ok(old, 'old container retained');
  assert.notEqual(old.state, 'running');
  const stopped = await finishedAt(old.name);
  assert.ok(stopped >= done.endedAt - 1000, `old container stopped at ${new Date(stopped).toISOString()}, slow request ended ${new Date(done.endedAt).toISOString()}`);
});

test('a release whose health check fails: non-zero exit naming the check, old keeps serving, new container gone', async () => {
  e.configure('unhealthy', 'x-note: health check fails\n');
  e.app.writeConfig(
    (await import('node:fs')).readFileSync(`${e.app.dir}/deploy.yml`, 'utf8').replace(/deploy_timeout: \d+/, 'deploy_timeout: 5'),
  );
  const r = await e.push('r-bad');
  assert.notEqual(r.code, 0, explain(r, e));
  const out = r.stdout + r.stderr;
  assert.match(out, /health check/i);
  assert.match(out, /\/up/);
  assert.match(out, /5 ?s/);

  const page = await e.hosts[0]!.get(e.hostHeader);
  assert.equal(page.status, 200);
  assert.equal(page.body, 'v2\n');
  const bad = (await e.containers()).filter((c) => c.labels['berth.release'] === 'r-bad');
  assert.deepEqual(bad, [], 'the failed container is removed');
});
