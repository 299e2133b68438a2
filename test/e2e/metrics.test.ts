// Both metrics listeners on a real host: after `deploy push`, the agent counts
// the deploy and each of its phases, and the router counts the requests to the
// service it now routes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { scrape, value } from '../support/metrics.js';
import { freePort } from '../support/router-fixtures.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
let agentMetrics: number;
let routerMetrics: number;

before(async () => {
  agentMetrics = await freePort();
  routerMetrics = await freePort();
  e = await setupApp('metrics', {
    agentEnv: { BERTH_METRICS_LISTEN: `127.0.0.1:${agentMetrics}` },
    routerEnv: { BERTH_ROUTER_METRICS_LISTEN: `127.0.0.1:${routerMetrics}` },
  });
});

after(async () => e?.teardown());

test('after one push the agent reports one ok deploy and every phase once; the router counts its requests', async () => {
  const before = await scrape(agentMetrics);
  assert.equal(before.status, 200);
  assert.equal(value(before, 'berth_deploys_total{service="metrics",destination="",outcome="ok"}'), undefined);

  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  const s = await scrape(agentMetrics);
  assert.equal(value(s, 'berth_deploys_total{service="metrics",destination="",outcome="ok"}'), 1);
  assert.equal(value(s, 'berth_deploys_total{service="metrics",destination="",outcome="failed"}'), undefined);
  assert.equal(value(s, 'berth_deploys_in_progress'), 0);
  for (const phase of ['verify', 'plan', 'pull', 'accessories', 'launch', 'wait_healthy', 'backups', 'switch', 'drain', 'finish']) {
    assert.equal(value(s, `berth_deploy_phase_duration_seconds_count{phase="${phase}"}`), 1, phase);
  }

  const host = e.hosts[0]!;
  for (let i = 0; i < 3; i += 1) assert.equal((await host.get(e.hostHeader)).status, 200);
  const m = await waitFor('the requests counted', async () => {
    const x = await scrape(routerMetrics);
    return value(x, 'berth_router_requests_total{service="metrics",code_class="2xx"}') === 3 ? x : undefined;
  });
  assert.equal(value(m, 'berth_router_inflight_requests{service="metrics"}'), 0);
  assert.equal(value(m, 'berth_router_switches_total{service="metrics"}'), 0, 'a first route is not a switch');
  const up = [...m.series].filter(([k]) => k.startsWith('berth_router_target_up{service="metrics"'));
  assert.equal(up.length, 1);
  assert.equal(up[0]![1], 1);
});
