import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { agentTag, containerName, containerSpec, isAgentsContainer, legacyContainerName, replicaNames } from '../../../agent/core/containers.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { loggingPolicy } from '../../../agent/core/logging-policy.js';
import { fullManifest, minimalManifest } from '../../support/manifest-fixture.js';

const ctx = { deployId: 42, hostname: 'web-1.example.com', network: 'berth', fingerprint: 'f'.repeat(32), policy: guardrailPolicy() };
const SECRET = 's3cr3t-value-never-in-labels';

test('name is service-role-version, with the destination when there is one, then a tag of the agent id', () => {
  const agent = 'Ab-_3xYz9' + 'q'.repeat(34);
  assert.equal(containerName({ service: 'demo', destination: '', version: 'abc123', aud: agent }, 'web'), 'demo-web-abc123-Ab3xYz');
  assert.equal(containerName({ service: 'demo', destination: 'staging', version: 'abc123', aud: agent }, 'web'), 'demo-web-staging-abc123-Ab3xYz');
  assert.equal(legacyContainerName({ service: 'demo', destination: 'staging', version: 'abc123' }, 'web'), 'demo-web-staging-abc123');
  assert.equal(agentTag(agent), 'Ab3xYz', 'letters and digits only: no - or _ in a name');
  const spec = containerSpec(parseManifestPayload(fullManifest()), 'worker', ctx, {});
  assert.equal(spec.name, 'demo-worker-staging-abc123-gggggg');
});

test('a role with replicas: the first keeps the name it always had, the others add -2, -3; each knows its own name', () => {
  const m = parseManifestPayload(minimalManifest({ roles: { web: { replicas: 3 }, worker: {} } }));
  assert.deepEqual(replicaNames(m, 'web'), ['demo-web-abc123-gggggg', 'demo-web-abc123-gggggg-2', 'demo-web-abc123-gggggg-3']);
  assert.deepEqual(replicaNames(m, 'worker'), ['demo-worker-abc123-gggggg']);
  const second = containerSpec(m, 'web', ctx, {}, 2);
  assert.equal(second.name, 'demo-web-abc123-gggggg-2');
  assert.equal(second.env.KAMAL_CONTAINER_NAME, 'demo-web-abc123-gggggg-2');
  assert.deepEqual(second.labels, containerSpec(m, 'web', ctx, {}).labels, 'the same labels: a replica is found by its release and role');
});

test("a container is the agent's when berth.agent names it; an unlabeled Berth container only when adopted", () => {
  const mine = 'm'.repeat(43);
  const never = () => false;
  assert.equal(isAgentsContainer({ 'berth.kind': 'app', 'berth.agent': mine }, mine, never), true);
  assert.equal(isAgentsContainer({ 'berth.kind': 'app', 'berth.agent': 'o'.repeat(43) }, mine, () => true), false, "another agent's, even if adoptable");
  assert.equal(isAgentsContainer({ 'berth.kind': 'exec' }, mine, never), false);
  assert.equal(isAgentsContainer({ 'berth.kind': 'exec' }, mine, () => true), true);
  assert.equal(isAgentsContainer({ 'com.example': 'x' }, mine, never), true, 'not a Berth container: seen, so a name it holds is reported taken');
});

test('labels identify the release; user labels kept; secrets never in labels', () => {
  const m = parseManifestPayload(fullManifest());
  const spec = containerSpec(m, 'web', ctx, { DB_PASSWORD: SECRET });
  assert.deepEqual(
    Object.fromEntries(Object.entries(spec.labels).filter(([k]) => k !== 'berth.spec')),
    {
      'com.example.team': 'web',
      'berth.service': 'demo',
      'berth.role': 'web',
      'berth.release': 'abc123',
      'berth.destination': 'staging',
      'berth.kind': 'app',
      'berth.deploy': '42',
      'berth.seq': '1',
      'berth.agent': m.aud,
    },
  );
  assert.equal(spec.labels['berth.spec'], ctx.fingerprint);
  assert.ok(!JSON.stringify(spec.labels).includes(SECRET));
  assert.ok(!JSON.stringify(spec.labels).includes('eyJhbGciOiJFQ0RILUVTIn0'), 'not even the sealed value');
});

test('env: clear, unsealed secrets, then BERTH_* and KAMAL_* which cannot be overridden', () => {
  const m = parseManifestPayload(
    fullManifest({
      roles: {
        web: {
          env: { clear: { RAILS_ENV: 'production', BERTH_ROLE: 'spoofed' }, secret: { DB_PASSWORD: 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn' } },
          proxy: { hosts: ['demo.example.com'] },
        },
      },
    }),
  );
  const spec = containerSpec(m, 'web', ctx, { DB_PASSWORD: SECRET });
  assert.deepEqual(spec.env, {
    RAILS_ENV: 'production',
    DB_PASSWORD: SECRET,
    BERTH_SERVICE: 'demo',
    BERTH_ROLE: 'web',
    BERTH_RELEASE: 'abc123',
    BERTH_HOST: 'web-1.example.com',
    BERTH_DESTINATION: 'staging',
    KAMAL_VERSION: 'abc123',
    KAMAL_HOST: 'web-1.example.com',
    KAMAL_CONTAINER_NAME: 'demo-web-staging-abc123-gggggg',
    KAMAL_DESTINATION: 'staging',
  });
});

test('restart policy, network, image and cmd', () => {
  const m = parseManifestPayload(fullManifest());
  const web = containerSpec(m, 'web', ctx, {});
  assert.equal(web.restartPolicy, 'unless-stopped');
  assert.equal(web.network, 'berth');
  assert.equal(web.image, m.image);
  assert.deepEqual(web.cmd, ['bin/server', '--port', '3000']);
  const minimal = containerSpec(parseManifestPayload(minimalManifest()), 'web', ctx, {});
  assert.equal(minimal.cmd, undefined, 'no cmd: the image default runs');
  assert.equal(minimal.env.BERTH_DESTINATION, '');
});

test('an unknown role is refused; a known one is a positive control', () => {
  const m = parseManifestPayload(minimalManifest());
  assert.throws(() => containerSpec(m, 'nope', ctx, {}), /role nope is not in the manifest/);
  assert.throws(() => containerSpec(m, '__proto__', ctx, {}), /role __proto__ is not in the manifest/);
  assert.equal(containerSpec(m, 'web', ctx, {}).name, 'demo-web-abc123-gggggg');
});

test('volumes, logging and options become HostConfig and Config fields, as docker run would send them', () => {
  const m = parseManifestPayload(
    minimalManifest({
      roles: {
        web: {
          volumes: ['/data/storage/:/rails/storage', 'cache:/cache:ro'],
          logging: { driver: 'syslog', options: { 'syslog-address': 'udp://127.0.0.1:514', tag: 'web' } },
          options: { memory: '2GB', cpus: 4, 'shm-size': '128m', 'add-host': 'db:10.0.0.5', init: true, user: 'app', workdir: '/rails' },
        },
      },
    }),
  );
  // syslog with an address only where the agent's owner allowed both.
  const owner = { ...ctx, policy: guardrailPolicy({ logging: loggingPolicy({ allowDrivers: ['syslog'], allowOptions: ['syslog-address'] }) }) };
  const spec = containerSpec(m, 'web', owner, {});
  assert.deepEqual(spec.host, {
    Memory: 2 * 1024 ** 3,
    NanoCpus: 4e9,
    ShmSize: 128 * 1024 ** 2,
    ExtraHosts: ['db:10.0.0.5'],
    Init: true,
    Binds: ['/data/storage:/rails/storage', 'cache:/cache:ro'],
    LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'udp://127.0.0.1:514', tag: 'web' } },
  });
  assert.deepEqual(spec.config, { User: 'app', WorkingDir: '/rails' });
  assert.equal(spec.restartPolicy, 'unless-stopped');
});

test('logs are capped by default: json-file 10m x 3, also when json-file is named without a size', () => {
  const plain = containerSpec(parseManifestPayload(minimalManifest()), 'web', ctx, {});
  assert.deepEqual(plain.host, { LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } } });
  const named = (options: Record<string, string>) =>
    containerSpec(parseManifestPayload(minimalManifest({ roles: { web: { logging: { driver: 'json-file', options } } } })), 'web', ctx, {}).host.LogConfig;
  assert.deepEqual(named({}), { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  assert.deepEqual(named({ 'max-file': '5' }), { Type: 'json-file', Config: { 'max-file': '5', 'max-size': '10m' } });
  assert.deepEqual(named({ 'max-size': '50m' }), { Type: 'json-file', Config: { 'max-size': '50m' } });
});

test('the spec is never built from settings the guardrails refuse', () => {
  const m = (web: Record<string, unknown>) => parseManifestPayload(minimalManifest({ roles: { web } }));
  assert.throws(() => containerSpec(m({ options: { privileged: true } }), 'web', ctx, {}), /option privileged is refused/);
  assert.throws(() => containerSpec(m({ volumes: ['/var/run/docker.sock:/var/run/docker.sock'] }), 'web', ctx, {}), /would give the container the host/);
  assert.throws(() => containerSpec(m({ options: { 'cap-add': 'NET_ADMIN' } }), 'web', ctx, {}), /cap-add NET_ADMIN is refused/);
  const allowed = { ...ctx, policy: guardrailPolicy({ allowCaps: ['NET_ADMIN'] }) };
  assert.deepEqual(containerSpec(m({ options: { 'cap-add': 'NET_ADMIN' } }), 'web', allowed, {}).host.CapAdd, ['NET_ADMIN']);
});
