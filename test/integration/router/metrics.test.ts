// The router's metrics listener, against the real router process: the counts
// after a known sequence of requests, switches, the listener's own surface,
// and that it is off unless asked for.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createRouterClient } from '../../../agent/router/client.js';
import { listeningPorts, scrape, value, type Scrape } from '../../support/metrics.js';
import {
  freePort, routeSet, send, startRouterProcess, startUpstream, tempDir, waitFor, type RouterProcess, type Upstream,
} from '../../support/router-fixtures.js';

let v1: Upstream;
let v2: Upstream;
let dir: Awaited<ReturnType<typeof tempDir>>;
let proc: RouterProcess;
let metricsPort: number;
let deadTarget: string;

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  deadTarget = `127.0.0.1:${await freePort()}`;
  dir = await tempDir();
  metricsPort = await freePort();
  proc = await startRouterProcess(dir.path, undefined, { extraArgs: ['--metrics-listen', `127.0.0.1:${metricsPort}`] });
});

after(async () => {
  proc.child.kill('SIGTERM');
  await proc.exited;
  await Promise.all([v1.close(), v2.close()]);
  await dir.remove();
});

const inflightZero = (s: Scrape): boolean =>
  [...s.series].every(([k, v]) => !k.startsWith('berth_router_inflight_requests') || v === 0);

test('after a known sequence of requests the counts, histogram and gauges are exact', async () => {
  const client = createRouterClient(proc.socketPath);
  await client.putRoutes(routeSet(1, [{ target: v1.target }, { service: 'dead', hosts: ['dead.test'], target: deadTarget }]));
  assert.equal((await send(proc.port, 'demo.test', '/')).status, 200);
  assert.equal((await send(proc.port, 'demo.test', '/')).status, 200);
  assert.equal((await send(proc.port, 'nowhere.test', '/')).status, 503);
  assert.equal((await send(proc.port, 'dead.test', '/')).status, 502);
  assert.equal((await send(proc.port, 'demo.test', '/slow?ms=300')).status, 200);

  // A response's 'close' comes right after the client has it: wait for the last one to be counted.
  const s = await waitFor('every request counted', async () => {
    const m = await scrape(metricsPort);
    return value(m, 'berth_router_request_duration_seconds_count{service="demo"}') === 3 && inflightZero(m) ? m : undefined;
  });
  assert.equal(s.status, 200);
  assert.equal(s.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const count = (service: string, cls: string) => value(s, `berth_router_requests_total{service="${service}",code_class="${cls}"}`);
  assert.equal(count('demo', '2xx'), 3);
  assert.equal(count('demo', '5xx'), 0);
  assert.equal(count('dead', '5xx'), 1);
  assert.equal(count('dead', '2xx'), 0);
  assert.equal(count('(none)', '5xx'), 1, 'the unrouted host, under the fixed no-route label');
  assert.equal(value(s, 'berth_router_request_duration_seconds_bucket{service="demo",le="+Inf"}'), 3);
  // The slow answer took at least 300 ms: it is above the 0.25 s bucket, whatever the machine's speed.
  assert.ok((value(s, 'berth_router_request_duration_seconds_bucket{service="demo",le="0.25"}') ?? 99) <= 2);
  assert.ok((value(s, 'berth_router_request_duration_seconds_sum{service="demo"}') ?? 0) >= 0.3);
  assert.equal(value(s, 'berth_router_inflight_requests{service="demo"}'), 0);
  assert.equal(value(s, `berth_router_target_up{service="demo",target="${v1.target}"}`), 1);
  assert.equal(value(s, `berth_router_target_up{service="dead",target="${deadTarget}"}`), 0, 'a refused connection marks the target down');
  assert.equal(value(s, 'berth_router_route_set_version'), 1);
  assert.equal(value(s, 'berth_router_switches_total{service="demo"}'), 0);
  assert.ok((value(s, 'process_resident_memory_bytes') ?? 0) > 1_000_000);
  assert.ok((value(s, 'process_cpu_seconds_total') ?? 0) > 0);
  assert.ok((value(s, 'berth_router_open_connections') ?? -1) >= 0);
  assert.equal(value(s, 'berth_router_requests_total{service="nowhere.test",code_class="5xx"}'), undefined);

  // A route change moving demo to another target is one switch; dead's target is unchanged.
  await client.putRoutes(routeSet(2, [{ target: v2.target }, { service: 'dead', hosts: ['dead.test'], target: deadTarget }]));
  assert.equal((await send(proc.port, 'demo.test', '/')).body, 'v2');
  const t = await scrape(metricsPort);
  assert.equal(value(t, 'berth_router_switches_total{service="demo"}'), 1);
  assert.equal(value(t, 'berth_router_switches_total{service="dead"}'), 0);
  assert.equal(value(t, 'berth_router_route_set_version'), 2);
  assert.equal(value(t, `berth_router_target_up{service="demo",target="${v2.target}"}`), 1);
  assert.equal(value(t, `berth_router_target_up{service="demo",target="${v1.target}"}`), undefined, 'an unrouted target has no series');
});

test('a flood of unrouted hosts and refused targets creates no new series', async () => {
  const seriesNames = (s: Scrape) => [...s.series.keys()].sort();
  const before = seriesNames(await scrape(metricsPort));
  for (let i = 0; i < 40; i += 1) {
    assert.equal((await send(proc.port, `flood-${i}.test`, `/p${i}`)).status, 503);
  }
  assert.equal((await send(proc.port, 'demo.test', '/x/%2e%2e/y')).status, 400, 'a request target the router refuses');
  const s = await waitFor('the flood counted', async () => {
    const m = await scrape(metricsPort);
    const none = (cls: string) => value(m, `berth_router_requests_total{service="(none)",code_class="${cls}"}`) ?? 0;
    return inflightZero(m) && none('5xx') === 41 && none('4xx') === 1 ? m : undefined;
  });
  assert.deepEqual(seriesNames(s), before);
  assert.ok(!s.text.includes('flood-'));
});

test('the metrics listener serves only GET /metrics, and never proxied traffic', async () => {
  assert.equal((await scrape(metricsPort, '/')).status, 404);
  assert.equal((await scrape(metricsPort, '/metrics/x')).status, 404);
  const post = await scrape(metricsPort, '/metrics', 'POST');
  assert.equal(post.status, 405);
  const head = await scrape(metricsPort, '/metrics', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  // A routed Host on the metrics port is not proxied; /metrics on the proxy port is the app's.
  const hits = v2.hits.get('/') ?? 0;
  const onMetricsPort = await scrape(metricsPort, '/', 'GET', 'demo.test');
  assert.equal(onMetricsPort.status, 404);
  assert.equal(v2.hits.get('/') ?? 0, hits, 'the app saw nothing');
  assert.equal((await scrape(metricsPort, '/metrics', 'GET', 'demo.test')).status, 200);
  const onProxy = await send(proc.port, 'demo.test', '/metrics');
  assert.equal(onProxy.body, 'v2');
  assert.equal(v2.hits.get('/metrics'), 1);
  assert.deepEqual(await listeningPorts(proc.child.pid ?? 0), [proc.port, proc.httpsPort, metricsPort].sort((a, b) => a - b));
});

test('without --metrics-listen the router listens on its proxy ports (HTTP and HTTPS) only', async () => {
  const other = await tempDir();
  const plain = await startRouterProcess(other.path);
  try {
    assert.deepEqual(await listeningPorts(plain.child.pid ?? 0), [plain.port, plain.httpsPort].sort((a, b) => a - b));
    assert.doesNotMatch(plain.stderr(), /metrics/);
  } finally {
    plain.child.kill('SIGTERM');
    await plain.exited;
    await other.remove();
  }
});
