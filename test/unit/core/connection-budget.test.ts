// The connection budget: caps fitted under the open-file limit, the per-address
// bucket of a client address, Node's timeout options, the agent's options.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAgentConfig } from '../../../agent/config.js';
import { addressKey, cappedByOpenFiles, FD_RESERVE, httpTimeouts, openFilesLimit } from '../../../agent/core/connection-budget.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63704                63704                processes
Max open files            1024                 4096                 files
Max locked memory         8388608              8388608              bytes
`;

test('the soft open-file limit is read from /proc/self/limits; unlimited or absent means unknown', () => {
  assert.equal(openFilesLimit(LIMITS), 1024);
  assert.equal(openFilesLimit(LIMITS.replace('1024  ', 'unlimited')), undefined);
  assert.equal(openFilesLimit('Max processes 5 5 processes\n'), undefined);
});

test('the total cap leaves a reserve and two descriptors per connection', () => {
  // 1,000 idle TLS connections once took the last descriptor from Docker's socket at a 1,024 limit.
  assert.equal(cappedByOpenFiles(512, 1024), (1024 - FD_RESERVE) / 2);
  assert.ok(cappedByOpenFiles(4096, 1024) + FD_RESERVE / 2 <= 1024 / 2);
  assert.equal(cappedByOpenFiles(512, 65536), 512, 'a roomy limit keeps the configured cap');
  assert.equal(cappedByOpenFiles(512, undefined), 512);
  assert.equal(cappedByOpenFiles(512, 100), 1, 'never zero');
});

test('clients are counted per IPv4 address (mapped or not) and per IPv6 /64', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::5'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey(undefined), '?');
});

test('Node is told to check heads often enough that none outlives the header timeout', () => {
  const plain = httpTimeouts(20_000, false);
  assert.equal(plain.handshakeTimeout, undefined);
  assert.ok(plain.headersTimeout + plain.connectionsCheckingInterval <= 20_000);
  const secure = httpTimeouts(20_000, true);
  assert.ok((secure.handshakeTimeout ?? 0) + secure.headersTimeout + secure.connectionsCheckingInterval <= 20_000);
  assert.equal(secure.keepAliveTimeout, 5_000);
  const quick = httpTimeouts(1_000, true);
  assert.ok(quick.headersTimeout > 0 && quick.connectionsCheckingInterval >= 50);
});

test('the agent options: defaults, flags over environment, bad values refused', () => {
  assert.deepEqual(loadAgentConfig({}, {}).connections, { maxConnections: 512, maxPerAddress: 32, headerTimeoutMs: 20_000 });
  const env = { BERTH_MAX_CONNECTIONS: '64', BERTH_MAX_CONNECTIONS_PER_IP: '8', BERTH_HEADER_TIMEOUT: '3' };
  assert.deepEqual(loadAgentConfig({}, env).connections, { maxConnections: 64, maxPerAddress: 8, headerTimeoutMs: 3_000 });
  assert.deepEqual(loadAgentConfig({ 'max-connections': '20', 'max-connections-per-ip': '20', 'header-timeout': '0.5' }, env).connections, {
    maxConnections: 20,
    maxPerAddress: 20,
    headerTimeoutMs: 500,
  });
  assert.deepEqual(loadAgentConfig({}, { BERTH_MAX_CONNECTIONS: '' }).connections.maxConnections, 512, 'empty means unset');
  assert.throws(() => loadAgentConfig({ 'max-connections': '-1' }, {}), /--max-connections "-1" must be a whole number/);
  assert.throws(() => loadAgentConfig({}, { BERTH_MAX_CONNECTIONS_PER_IP: '1000' }), /--max-connections-per-ip \(1000\) must not exceed --max-connections \(512\)/);
  assert.throws(() => loadAgentConfig({ 'header-timeout': 'soon' }, {}), /--header-timeout "soon" must be seconds/);
});
