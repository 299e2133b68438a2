import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAgentConfig } from '../../../agent/config.js';
import { loadRouterConfig, parseListenAddress, parseWorkers } from '../../../agent/router/config.js';

test('defaults follow docs/internals.md', () => {
  const c = loadRouterConfig([], {});
  assert.equal(c.stateDir, '/var/lib/berth');
  assert.deepEqual(c.httpListen, { host: '0.0.0.0', port: 80 });
  assert.equal(c.socketPath, '/run/berth/router.sock');
  assert.equal(c.snapshotPath, '/var/lib/berth/router/routes.json');
  assert.equal(c.webhookSocket, '/run/berth/webhooks.sock');
});

test('the webhook socket sits beside the router socket unless given, for the router and the agent alike', () => {
  assert.equal(loadRouterConfig(['--router-socket', '/s/router.sock'], {}).webhookSocket, '/s/webhooks.sock');
  assert.equal(loadAgentConfig({ 'router-socket': '/s/router.sock' }, {}).webhookSocket, '/s/webhooks.sock');
  assert.equal(loadAgentConfig({}, {}).webhookSocket, '/run/berth/webhooks.sock');
  assert.equal(loadRouterConfig(['--webhook-socket', '/w.sock'], {}).webhookSocket, '/w.sock');
  assert.equal(loadAgentConfig({}, { BERTH_WEBHOOK_SOCKET: '/w.sock' }).webhookSocket, '/w.sock');
});

test('options win over environment, environment over defaults', () => {
  const env = { BERTH_STATE_DIR: '/env/state', BERTH_HTTP_LISTEN: '127.0.0.1:8080', BERTH_ROUTER_SOCKET: '/env/r.sock' };
  const fromEnv = loadRouterConfig([], env);
  assert.equal(fromEnv.stateDir, '/env/state');
  assert.equal(fromEnv.snapshotPath, '/env/state/router/routes.json');
  assert.deepEqual(fromEnv.httpListen, { host: '127.0.0.1', port: 8080 });
  assert.equal(fromEnv.socketPath, '/env/r.sock');
  const fromArgs = loadRouterConfig(['router', '--state-dir', '/opt/s', '--http-listen=[::1]:81', '--snapshot', '/x/snap.json'], env);
  assert.equal(fromArgs.stateDir, '/opt/s');
  assert.deepEqual(fromArgs.httpListen, { host: '::1', port: 81 });
  assert.equal(fromArgs.snapshotPath, '/x/snap.json');
  assert.equal(loadRouterConfig([], { BERTH_ROUTER_SNAPSHOT: '/y/s.json' }).snapshotPath, '/y/s.json');
});

test('bad options and addresses are ConfigErrors', () => {
  assert.throws(() => loadRouterConfig(['--nope'], {}), { code: 'config_invalid' });
  assert.throws(() => loadRouterConfig(['extra'], {}), { code: 'config_invalid' });
  assert.throws(() => loadRouterConfig([], { BERTH_HTTP_LISTEN: 'localhost:80' }), /--http-listen must be IP:PORT/);
  for (const bad of ['80', '1.2.3.4', '1.2.3.4:99999', '::1:80', '[1.2.3.4]:80', '1.2.3.4:x']) {
    assert.throws(() => parseListenAddress(bad, '--http-listen'), { code: 'config_invalid' }, bad);
  }
  assert.deepEqual(parseListenAddress('0.0.0.0:0', 'x'), { host: '0.0.0.0', port: 0 });
});

test('connection caps and the header timeout: defaults, options over environment, bad values refused', () => {
  assert.deepEqual(loadRouterConfig([], {}).connections, { maxConnections: 4096, maxPerAddress: 256, headerTimeoutMs: 20_000 });
  const env = { BERTH_ROUTER_MAX_CONNECTIONS: '100', BERTH_ROUTER_MAX_CONNECTIONS_PER_IP: '10', BERTH_ROUTER_HEADER_TIMEOUT: '2.5' };
  assert.deepEqual(loadRouterConfig([], env).connections, { maxConnections: 100, maxPerAddress: 10, headerTimeoutMs: 2_500 });
  assert.deepEqual(loadRouterConfig(['--max-connections', '50', '--max-connections-per-ip=5', '--header-timeout', '7'], env).connections, {
    maxConnections: 50,
    maxPerAddress: 5,
    headerTimeoutMs: 7_000,
  });
  // The agent's variables are the agent's: a shared environment file does not set the router's caps.
  assert.equal(loadRouterConfig([], { BERTH_MAX_CONNECTIONS: '3' }).connections?.maxConnections, 4096);
  assert.throws(() => loadRouterConfig(['--max-connections', '0'], {}), /--max-connections "0" must be a whole number/);
  assert.throws(() => loadRouterConfig(['--max-connections', '10', '--max-connections-per-ip', '11'], {}), /must not exceed --max-connections/);
  assert.throws(() => loadRouterConfig(['--header-timeout', '0.1'], {}), /--header-timeout "0.1" must be seconds between 0.5 and 300/);
  assert.throws(() => loadRouterConfig(['--header-timeout', '1e3'], {}), { code: 'config_invalid' });
});

test('metrics are off unless --metrics-listen or BERTH_ROUTER_METRICS_LISTEN names an address', () => {
  assert.equal(loadRouterConfig([], {}).metricsListen, undefined);
  assert.equal(loadRouterConfig([], { BERTH_ROUTER_METRICS_LISTEN: '' }).metricsListen, undefined);
  assert.deepEqual(loadRouterConfig([], { BERTH_ROUTER_METRICS_LISTEN: '127.0.0.1:9180' }).metricsListen, { host: '127.0.0.1', port: 9180 });
  assert.deepEqual(loadRouterConfig(['--metrics-listen', '[::1]:9190'], { BERTH_ROUTER_METRICS_LISTEN: '127.0.0.1:9180' }).metricsListen, { host: '::1', port: 9190 });
  // An explicit non-loopback address is the operator's choice (a private interface for a remote Prometheus).
  assert.deepEqual(loadRouterConfig(['--metrics-listen', '10.0.0.5:9180'], {}).metricsListen, { host: '10.0.0.5', port: 9180 });
  assert.throws(() => loadRouterConfig(['--metrics-listen', 'localhost:9180'], {}), /--metrics-listen must be IP:PORT/);
});

test("the agent's metrics are off unless --metrics-listen or BERTH_METRICS_LISTEN names an address", () => {
  assert.equal(loadAgentConfig({}, {}).metricsListen, undefined);
  assert.deepEqual(loadAgentConfig({}, { BERTH_METRICS_LISTEN: '127.0.0.1:9181' }).metricsListen, { host: '127.0.0.1', port: 9181 });
  assert.deepEqual(loadAgentConfig({ 'metrics-listen': '[::1]:9182' }, { BERTH_METRICS_LISTEN: '127.0.0.1:9181' }).metricsListen, { host: '::1', port: 9182 });
  assert.throws(() => loadAgentConfig({ 'metrics-listen': 'metrics:9181' }, {}), /--metrics-listen "metrics:9181" must be IP:PORT/);
});

test('--workers: a number from 1 to 64, or auto (the CPUs, at most 8); 1 by default', () => {
  assert.equal(loadRouterConfig([], {}).workers, 1);
  assert.equal(loadRouterConfig(['--workers', '3'], {}).workers, 3);
  assert.equal(loadRouterConfig([], { BERTH_ROUTER_WORKERS: '2' }).workers, 2);
  assert.equal(parseWorkers('auto', 2), 2);
  assert.equal(parseWorkers('auto', 32), 8);
  for (const bad of ['0', '65', '-1', '1.5', 'two', '']) assert.throws(() => parseWorkers(bad, 2), /--workers/);
});
