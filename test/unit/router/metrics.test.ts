// The router's metrics as a port-level unit: what counts as a switch, the
// passive target state, certificate expiry, and series of removed services.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { RouterMetrics, type CertificateInfo } from '../../../agent/router/metrics.js';
import type { RouteSet } from '../../../agent/router/types.js';
import { parseExposition } from '../../support/metrics.js';

const set = (version: number, routes: Array<[string, string]>): RouteSet => ({
  version,
  routes: routes.map(([service, target]) => ({ service, hosts: [`${service}.test`], target })),
});

function bench(initial: RouteSet, certificates: CertificateInfo[] = []) {
  let live = initial;
  const metrics = new RouterMetrics({ routeSet: () => live, openConnections: async () => 3, certificates: () => certificates });
  return {
    metrics,
    apply(next: RouteSet) {
      metrics.routesApplied(live, next);
      live = next;
    },
    scrape: async () => parseExposition(await metrics.render()),
  };
}

/** A response that has sent `status` (or nothing) and then closes. */
function closeResponse(status: number | undefined): ServerResponse & EventEmitter {
  const res = Object.assign(new EventEmitter(), { headersSent: status !== undefined, statusCode: status ?? 200 });
  return res as unknown as ServerResponse & EventEmitter;
}

test('a switch is a known service moving to other targets; a new service or the same targets in another order is not', async () => {
  const b = bench(set(1, [['a', '10.0.0.1:80'], ['b', '10.0.0.2:80'], ['b', '10.0.0.3:80']]));
  b.apply(set(2, [['a', '10.0.0.9:80'], ['b', '10.0.0.3:80'], ['b', '10.0.0.2:80'], ['c', '10.0.0.4:80']]));
  b.apply(set(3, [['a', '10.0.0.9:80'], ['b', '10.0.0.3:80'], ['c', '10.0.0.5:80']]));
  const s = await b.scrape();
  assert.equal(s.get('berth_router_switches_total{service="a"}'), 1);
  assert.equal(s.get('berth_router_switches_total{service="b"}'), 1, 'losing one of two targets is a switch');
  assert.equal(s.get('berth_router_switches_total{service="c"}'), 1);
  assert.equal(s.get('berth_router_switches_total{service="(none)"}'), undefined);
  assert.equal(s.get('berth_router_route_set_version'), 3);
  assert.equal(s.get('berth_router_open_connections'), 3);
});

test('requests count by status class; a client that left before an answer counts as none; removed services lose their series once idle', async () => {
  const b = bench(set(1, [['a', '10.0.0.1:80']]));
  const ok = closeResponse(204);
  const gone = closeResponse(undefined);
  const running = closeResponse(200);
  let released = 0;
  b.metrics.observe('a', ok, () => (released += 1));
  b.metrics.observe('a', gone);
  b.metrics.observe('a', running);
  b.metrics.observe(undefined, closeResponse(503));
  ok.emit('close');
  gone.emit('close');
  assert.equal(released, 1);
  let s = await b.scrape();
  assert.equal(s.get('berth_router_requests_total{service="a",code_class="2xx"}'), 1);
  assert.equal(s.get('berth_router_requests_total{service="a",code_class="none"}'), 1);
  assert.equal(s.get('berth_router_inflight_requests{service="a"}'), 1);
  assert.equal(s.get('berth_router_inflight_requests{service="(none)"}'), 1);

  b.apply(set(2, []));
  s = await b.scrape();
  assert.equal(s.get('berth_router_inflight_requests{service="a"}'), 1, 'kept while a request to it runs');
  running.emit('close');
  s = await b.scrape();
  assert.equal(s.get('berth_router_inflight_requests{service="a"}'), undefined);
  assert.equal(s.get('berth_router_requests_total{service="a",code_class="2xx"}'), undefined);
});

test('a target is down from a failed connection until it answers; unrouted targets are forgotten', async () => {
  // Two routes of one service to one target (two path prefixes) are one series.
  const b = bench(set(1, [['a', '10.0.0.1:80'], ['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']]));
  assert.equal((await b.metrics.render()).match(/^berth_router_target_up\{service="a"/gm)?.length, 1);
  b.metrics.targetFailed('10.0.0.1:80');
  let s = await b.scrape();
  assert.equal(s.get('berth_router_target_up{service="a",target="10.0.0.1:80"}'), 0);
  assert.equal(s.get('berth_router_target_up{service="b",target="10.0.0.2:80"}'), 1);
  b.metrics.targetAnswered('10.0.0.1:80');
  s = await b.scrape();
  assert.equal(s.get('berth_router_target_up{service="a",target="10.0.0.1:80"}'), 1);
  b.metrics.targetFailed('10.0.0.1:80');
  b.apply(set(2, [['b', '10.0.0.2:80']]));
  b.apply(set(3, [['a', '10.0.0.1:80'], ['b', '10.0.0.2:80']]));
  s = await b.scrape();
  assert.equal(s.get('berth_router_target_up{service="a",target="10.0.0.1:80"}'), 1, 'a target routed again starts up');
});

test('certificate expiry: one series per host, the later certificate when two cover it', async () => {
  const b = bench(set(1, []), [
    { hosts: ['a.test', 'b.test'], notAfter: new Date('2027-01-01T00:00:00Z') },
    { hosts: ['a.test'], notAfter: new Date('2027-03-01T00:00:00Z') },
  ]);
  const s = await b.scrape();
  assert.equal(s.get('berth_router_certificate_expiry_timestamp_seconds{host="a.test"}'), Date.parse('2027-03-01T00:00:00Z') / 1000);
  assert.equal(s.get('berth_router_certificate_expiry_timestamp_seconds{host="b.test"}'), Date.parse('2027-01-01T00:00:00Z') / 1000);
});

test('a cluster primary adds its workers\' counts: requests, buckets, in-flight, down targets, open connections', async () => {
  const live = set(1, [['a', '10.0.0.1:80']]);
  const worker = new RouterMetrics({ routeSet: () => live, openConnections: async () => 2 });
  const ok = closeResponse(200);
  worker.observe('a', ok);
  worker.observe('a', closeResponse(200));
  ok.emit('close');
  worker.observe('gone', closeResponse(200));
  worker.targetFailed('10.0.0.1:80');
  const counts = await worker.counts();
  const primary = new RouterMetrics({ routeSet: () => live, openConnections: async () => 0, workers: async () => [counts, counts] });
  const s = parseExposition(await primary.render());
  assert.equal(s.get('berth_router_requests_total{service="a",code_class="2xx"}'), 2);
  assert.equal(s.get('berth_router_request_duration_seconds_count{service="a"}'), 2);
  assert.equal(s.get('berth_router_request_duration_seconds_bucket{service="a",le="+Inf"}'), 2);
  assert.equal(s.get('berth_router_inflight_requests{service="a"}'), 2);
  assert.equal(s.get('berth_router_inflight_requests{service="gone"}'), 2, 'an unrouted service stays while requests to it run');
  assert.equal(s.get('berth_router_target_up{service="a",target="10.0.0.1:80"}'), 0);
  assert.equal(s.get('berth_router_open_connections'), 4);
});
