// The logging guardrail: drivers are an allow-list, each with its option keys;
// max-size and max-file are capped by the agent's owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { checkRelease, guardrailPolicy } from '../../../agent/core/guardrails.js';
import { checkLogging, isLogDriverName, loggingPolicy, parseLogSize, type LoggingPolicy } from '../../../agent/core/logging-policy.js';
import { agentGuardrails, loadAgentConfig } from '../../../agent/config.js';
import { parseAgentArgs } from '../../../agent/cli.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const policy = loggingPolicy();

function refused(driver: string, options: Record<string, string>, message: RegExp, hint: RegExp, p: LoggingPolicy = policy, code = 'guardrail_refused'): void {
  assert.throws(
    () => checkLogging('web', { driver, options }, p),
    (e: unknown) => e instanceof UserError && e.code === code && message.test(e.message) && hint.test(e.hint ?? ''),
    `${driver} ${JSON.stringify(options)}`,
  );
}

test('positive control: json-file, local, journald and none with their options pass the default policy', () => {
  checkLogging('web', { driver: 'json-file', options: { 'max-size': '100m', 'max-file': '10', compress: 'true', tag: '{{.Name}}', labels: 'a,b', env: 'X' } }, policy);
  checkLogging('web', { driver: 'local', options: { 'max-size': '20m', 'max-file': '5', compress: 'false' } }, policy);
  checkLogging('web', { driver: 'journald', options: { tag: 'web', 'labels-regex': '^app' } }, policy);
  checkLogging('web', { driver: 'none', options: {} }, policy);
  checkLogging('web', undefined, policy);
});

test('a driver outside the allow-list is refused naming it, with the flag that allows it', () => {
  refused('syslog', { 'syslog-address': 'tcp://10.0.0.1:514' }, /^role web: logging driver "syslog" is refused by this agent's guardrails: the drivers allowed here are json-file, local, journald, none/, /--allow-log-driver syslog/);
  refused('gelf', {}, /logging driver "gelf" is refused/, /BERTH_ALLOW_LOG_DRIVERS/);
});

test('a driver name that climbs out of the plugin directory is refused, and no flag allows it', () => {
  for (const name of ['../../../tmp/evil', 'x/../../run/evil', 'json-file/..', '/run/docker/plugins/x']) {
    refused(name, {}, /logging driver .* is refused/, /no agent setting allows this name/);
    assert.equal(isLogDriverName(name), false, name);
  }
  assert.equal(isLogDriverName('grafana/loki:2.9.2'), true);
  assert.throws(() => loadAgentConfig({ 'allow-log-driver': ['../x'] }, {}), /--allow-log-driver "..\/x" is not a logging driver name/);
});

test('options a driver does not take are refused naming them', () => {
  refused('json-file', { 'max-size': '10m', 'syslog-address': 'tcp://x:1', mode: 'non-blocking' }, /logging options "syslog-address", "mode" of driver "json-file" is refused.*allowed for it here are max-size, max-file, compress, tag/, /Docker does not take it/);
  refused('none', { tag: 'x' }, /logging option "tag" of driver "none" is refused.*here are none/, /./);
  refused('local', { tag: 'x' }, /logging option "tag" of driver "local"/, /./);
});

test('max-size and max-file are capped by the agent; sizes Docker would read as unlimited are refused', () => {
  refused('json-file', { 'max-size': '100g' }, /logging option max-size 100g is refused.*at most 100m/, /--log-max-size/);
  refused('local', { 'max-size': '101m' }, /max-size 101m is refused/, /./);
  refused('json-file', { 'max-file': '11' }, /logging option max-file 11 is refused.*at most 10/, /--log-max-file/);
  for (const bad of ['-1', '0', '1.5g', '10x', '']) refused('json-file', { 'max-size': bad }, /max-size .* is not a size/, /^$/, policy, 'invalid_input');
  for (const bad of ['0', '-1', 'x']) refused('json-file', { 'max-file': bad }, /max-file .* is not a whole number/, /^$/, policy, 'invalid_input');
  refused('json-file', { compress: 'yes' }, /compress must be true or false/, /^$/, policy, 'invalid_input');
  assert.deepEqual(['10m', '512k', '1g', '100MB', '64MiB', '2048'].map(parseLogSize), [10 * 2 ** 20, 512 * 1024, 2 ** 30, 100 * 2 ** 20, 64 * 2 ** 20, 2048]);
  const roomy = loggingPolicy({ maxSizeBytes: 2 ** 30, maxFiles: 20 });
  checkLogging('web', { driver: 'json-file', options: { 'max-size': '1g', 'max-file': '20' } }, roomy);
});

test('a driver the owner allowed takes the entry keys and the options the owner named, nothing else', () => {
  const owner = loggingPolicy({ allowDrivers: ['syslog'], allowOptions: ['syslog-address'] });
  checkLogging('web', { driver: 'syslog', options: { 'syslog-address': 'udp://10.0.0.1:514', tag: 'web' } }, owner);
  refused('syslog', { 'syslog-tls-ca-cert': '/etc/shadow' }, /logging option "syslog-tls-ca-cert" of driver "syslog" is refused/, /--allow-log-opt/, owner);
  // The built-in drivers keep their own keys.
  refused('json-file', { 'syslog-address': 'udp://x:1' }, /logging option "syslog-address" of driver "json-file"/, /./, owner);
});

test('checkRelease refuses a role whose logging the policy refuses', () => {
  const release = parseManifestPayload(minimalManifest({ roles: { web: { logging: { driver: 'syslog', options: { 'syslog-address': 'tcp://10.0.0.1:514' } } } } }));
  assert.throws(() => checkRelease(release, guardrailPolicy()), /role web: logging driver "syslog" is refused/);
});

test('agent flags and env: --allow-log-driver, --allow-log-opt, --log-max-size, --log-max-file, --log-follow-limit', () => {
  const cmd = parseAgentArgs(['run', '--allow-log-driver', 'gelf', '--allow-log-opt', 'gelf-address', '--log-max-size', '1g', '--log-max-file', '3', '--log-follow-limit', '60']);
  const flags = cmd.cmd === 'run' ? cmd.flags : {};
  const config = loadAgentConfig(flags, { BERTH_STATE_DIR: '/tmp/berth-x' });
  assert.deepEqual(config.logging.drivers.gelf, ['tag', 'labels', 'labels-regex', 'env', 'env-regex', 'gelf-address']);
  assert.deepEqual([config.logging.maxSizeBytes, config.logging.maxFiles, config.logFollowLimitMs], [2 ** 30, 3, 60_000]);
  checkLogging('web', { driver: 'gelf', options: { 'gelf-address': 'udp://127.0.0.1:12201' } }, agentGuardrails(config).logging);
  const fromEnv = loadAgentConfig({}, { BERTH_ALLOW_LOG_DRIVERS: 'syslog, fluentd', BERTH_ALLOW_LOG_OPTS: 'syslog-address', BERTH_LOG_MAX_SIZE: '50m', BERTH_LOG_FOLLOW_LIMIT: '5' });
  assert.deepEqual(Object.keys(fromEnv.logging.drivers), ['json-file', 'local', 'journald', 'none', 'syslog', 'fluentd']);
  assert.deepEqual([fromEnv.logging.maxSizeBytes, fromEnv.logFollowLimitMs], [50 * 2 ** 20, 5000]);
  const defaults = loadAgentConfig({}, {});
  assert.deepEqual(Object.keys(defaults.logging.drivers), ['json-file', 'local', 'journald', 'none']);
  assert.deepEqual([defaults.logging.maxSizeBytes, defaults.logging.maxFiles, defaults.logFollowLimitMs], [100 * 2 ** 20, 10, 3_600_000]);
  assert.throws(() => loadAgentConfig({ 'log-max-size': '-1' }, {}), /--log-max-size "-1" is not a size/);
  assert.throws(() => loadAgentConfig({ 'log-max-file': '0' }, {}), /--log-max-file "0" must be a whole number from 1/);
  assert.throws(() => loadAgentConfig({ 'log-follow-limit': '1h' }, {}), /--log-follow-limit "1h" must be a whole number/);
  assert.throws(() => loadAgentConfig({ 'allow-log-opt': ['Bad Key'] }, {}), /--allow-log-opt "Bad Key" is not a logging option name/);
});
