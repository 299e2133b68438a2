// The router process with --workers 2 (docs/router.md "Workers"): switches,
// pauses, certificates and counts reach or come from both workers before the
// control call answers; the caps stay exact across workers; a killed worker
// is replaced; SIGTERM drains.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { scrape, value } from '../../support/metrics.js';
import { freePort, routeSet, send, startRouterProcess, startUpstream, tempDir, type RouterProcess, type Upstream } from '../../support/router-fixtures.js';
import { handshake, makeCa, makeLeaf, type TestCa } from '../../support/tls-certs.js';
import { waitFor } from '../../support/wait.js';

let dir: Awaited<ReturnType<typeof tempDir>>;
let router: RouterProcess;
let metricsPort: number;
let v1: Upstream;
let v2: Upstream;
let version = 0;
const client = () => createRouterClient(router.socketPath, { timeoutMs: 20_000 });
const routeTo = (target: string, extra: { pause?: { timeout: number } } = {}) => client().putRoutes(routeSet(++version, [{ target, ...extra }]));
/** `n` requests at once, each on its own new connection. */
const burst = (n: number, path = '/') => Promise.all(Array.from({ length: n }, () => send(router.port, 'demo.test', path)));
const workerPids = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

before(async () => {
  dir = await tempDir();
  v1 = await startUpstream('v1');
  v2 = await startUpstream('v2');
  metricsPort = await freePort();
  router = await startRouterProcess(dir.path, undefined, { extraArgs: ['--workers', '2', '--metrics-listen', `127.0.0.1:${metricsPort}`] });
  await routeTo(v1.target);
});
after(async () => {
  if (router.child.exitCode === null) router.child.kill('SIGKILL');
  await router.exited;
  await v1.close();
  await v2.close();
  await dir.remove();
});

test('both workers serve, and the control socket answers only once they listen', async () => {
  assert.equal(workerPids(router.child.pid ?? 0).length, 2);
  assert.equal((await send(router.port, 'demo.test', '/')).body, 'v1');
  assert.match(router.stderr(), /worker=1 started/);
  assert.match(router.stderr(), /worker=2 started/);
});

test('a switch under load fails no request, and right after PUT returns every new connection reaches the new target', async () => {
  let failed = 0;
  let done = 0;
  let loading = true;
  const loader = async (): Promise<void> => {
    while (loading) {
      const a = await send(router.port, 'demo.test', '/').catch(() => undefined);
      if (a?.status === 200 && (a.body === 'v1' || a.body === 'v2')) done += 1;
      else failed += 1;
    }
  };
  const load = Promise.all(Array.from({ length: 8 }, loader));
  try {
    for (const [i, to] of [v2, v1, v2, v1, v2, v1].entries()) {
      await routeTo(to.target);
      const after = await burst(30);
      assert.deepEqual([...new Set(after.map((a) => a.body))], [to.name], `switch ${i}: every request sent after PUT returned`);
    }
  } finally {
    loading = false;
    await load;
  }
  assert.equal(failed, 0);
  assert.ok(done > 0);
});

test('GET /targets counts the in-flight requests of both workers exactly', async () => {
  await routeTo(v1.target);
  const hits = v1.hits.get('/gated') ?? 0;
  const requests = Array.from({ length: 8 }, () => send(router.port, 'demo.test', '/gated'));
  await waitFor('the app to have all 8', () => (v1.hits.get('/gated') ?? 0) - hits === 8);
  assert.equal((await client().targets())[v1.target]?.inflight, 8);
  v1.openGate();
  await Promise.all(requests);
  await waitFor('the count to fall to 0', async () => (await client().targets())[v1.target]?.inflight === 0);
});

test('pause holds requests in both workers; resume sends them to the route as it is then', async () => {
  await routeTo(v1.target, { pause: { timeout: 60 } });
  const before = v1.hits.get('/') ?? 0;
  const held = burst(10);
  await waitFor('10 connections open', async () => (value(await scrape(metricsPort), 'berth_router_open_connections') ?? 0) >= 10);
  assert.equal(v1.hits.get('/') ?? 0, before, 'nothing reached the paused target');
  await routeTo(v2.target);
  assert.deepEqual([...new Set((await held).map((a) => a.body))], ['v2']);
  assert.equal(v1.hits.get('/') ?? 0, before);
});

test('metrics are the sums over both workers', async () => {
  await routeTo(v1.target);
  const settled = async () => {
    const m = await scrape(metricsPort);
    return value(m, 'berth_router_inflight_requests{service="demo"}') === 0 ? m : undefined;
  };
  const start = await waitFor('no request in flight', settled);
  const count = (m: typeof start, series: string) => value(m, series) ?? 0;
  const ok = 'berth_router_requests_total{service="demo",code_class="2xx"}';
  const unrouted = 'berth_router_requests_total{service="(none)",code_class="5xx"}';
  const durations = 'berth_router_request_duration_seconds_count{service="demo"}';
  await burst(40);
  await Promise.all(Array.from({ length: 6 }, () => send(router.port, 'nowhere.test', '/')));
  const end = await waitFor('all 46 counted', async () => {
    const m = await settled();
    return m && count(m, durations) - count(start, durations) === 40 ? m : undefined;
  });
  assert.equal(count(end, ok) - count(start, ok), 40);
  assert.equal(count(end, unrouted) - count(start, unrouted), 6);
  assert.equal(count(end, 'berth_router_route_set_version'), version);
});

test('a certificate put over the socket is served by both workers once the call returns, and gone once deleted', async () => {
  const ca: TestCa = makeCa();
  try {
    const leaf = makeLeaf(ca, ['tls.test']);
    await client().putCertificate('tls.test', { hosts: ['tls.test'], cert_pem: leaf.certPem, key_pem: leaf.keyPem });
    const shakes = await Promise.all(Array.from({ length: 20 }, () => handshake(router.httpsPort, 'tls.test', ca.certPem)));
    assert.deepEqual(shakes.filter((s) => s.error), []);
    await client().deleteCertificate('tls.test');
    const refused = await Promise.all(Array.from({ length: 20 }, () => handshake(router.httpsPort, 'tls.test', ca.certPem)));
    assert.equal(refused.filter((s) => s.error).length, 20);
  } finally {
    ca.remove();
  }
});

test('an ACME answer put over the socket is served by both workers once the call returns', async () => {
  const token = 'tok-workers';
  await client().putChallenge(token, 'acme.test', `${token}.thumb`);
  const answers = await Promise.all(Array.from({ length: 20 }, () => send(router.port, 'acme.test', `/.well-known/acme-challenge/${token}`)));
  assert.deepEqual([...new Set(answers.map((a) => `${a.status} ${a.body}`))], [`200 ${token}.thumb`]);
  await client().deleteChallenge(token);
  const gone = await Promise.all(Array.from({ length: 20 }, () => send(router.port, 'acme.test', `/.well-known/acme-challenge/${token}`)));
  assert.deepEqual([...new Set(gone.map((a) => a.status))], [404]);
});

test('a killed worker is replaced with the committed routes, and traffic goes on', async () => {
  await routeTo(v2.target);
  const pids = workerPids(router.child.pid ?? 0);
  const victim = pids[0]!;
  process.kill(victim, 'SIGKILL');
  await waitFor('a new worker', () => {
    const now = workerPids(router.child.pid ?? 0);
    return now.length === 2 && !now.includes(victim);
  });
  await waitFor('the new worker to listen', () => /worker=3 started/.test(router.stderr()));
  assert.match(router.stderr(), /worker \d+ exited \(SIGKILL\)/);
  assert.deepEqual([...new Set((await burst(30)).map((a) => `${a.status} ${a.body}`))], ['200 v2']);
  assert.equal((await client().targets())[v2.target]?.inflight, 0);
});

test('SIGTERM drains both workers: a request in flight is answered, then the router exits 0', async () => {
  await routeTo(v1.target);
  const slow = send(router.port, 'demo.test', '/slow?ms=800');
  await waitFor('the app to have it', async () => (await client().targets())[v1.target]?.inflight === 1);
  router.child.kill('SIGTERM');
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.equal(answer.body, 'v1');
  assert.equal(await router.exited, 0, router.stderr());
  assert.deepEqual(workerPids(router.child.pid ?? 0), []);
});

test('the per-address cap is exact across workers', async () => {
  const capped = await tempDir();
  const r = await startRouterProcess(capped.path, undefined, { extraArgs: ['--workers', '2', '--max-connections-per-ip', '2'] });
  const open: Socket[] = [];
  try {
    await createRouterClient(r.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    /** A kept-alive connection that got its answer, so it holds a slot in whichever worker took it. */
    const keep = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect(r.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n'));
        s.once('data', () => resolve(s));
        s.once('error', reject);
        s.once('close', () => reject(new Error('closed')));
      });
    for (let round = 0; round < 4; round += 1) {
      // The slot of the connection that proved the last round's slots free is released
      // only once the router sees it close, a moment after its answer: retry until held.
      for (let i = 0; i < 2; i += 1) open.push(await waitFor('a connection slot', () => keep().catch(() => undefined), 10_000, { intervalMs: 50 }));
      const extra = await Promise.all(Array.from({ length: 6 }, () => send(r.port, 'demo.test', '/').then(() => 'served', () => 'refused')));
      assert.deepEqual([...new Set(extra)], ['refused'], `round ${round}: a third connection from the address is refused`);
      for (const s of open.splice(0)) s.destroy();
      await waitFor('the slots to free', async () => (await send(r.port, 'demo.test', '/').catch(() => undefined))?.body === 'v1');
    }
  } finally {
    for (const s of open) s.destroy();
    r.child.kill('SIGTERM');
    await r.exited;
    await capped.remove();
  }
});

test('workers whose primary was killed stop accepting and exit, so the router can be started again', async () => {
  const orphanDir = await tempDir();
  const r = await startRouterProcess(orphanDir.path, undefined, { extraArgs: ['--workers', '2'] });
  try {
    await createRouterClient(r.socketPath).putRoutes(routeSet(1, [{ target: v1.target }]));
    const workers = workerPids(r.child.pid ?? 0);
    assert.equal(workers.length, 2);
    r.child.kill('SIGKILL');
    await r.exited;
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('both workers to exit', () => !workers.some(alive));
    const again = await startRouterProcess(orphanDir.path, r.port, { extraArgs: ['--workers', '2'] });
    assert.equal((await send(again.port, 'demo.test', '/')).body, 'v1', 'served from the snapshot');
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  } finally {
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await orphanDir.remove();
  }
});
