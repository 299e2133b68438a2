import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadRouterConfig, parseListenAddress } from '../../../agent/router/config.js';

test('defaults follow docs/internals.md', () => {
  const c = loadRouterConfig([], {});
  assert.equal(c.stateDir, '/var/lib/berth');
  assert.deepEqual(c.httpListen, { host: '0.0.0.0', port: 80 });
  assert.equal(c.socketPath, '/run/berth/router.sock');
  assert.equal(c.snapshotPath, '/var/lib/berth/router/routes.json');
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
