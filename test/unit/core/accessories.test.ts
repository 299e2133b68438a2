import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload, type ManifestPayload } from '../../../shared/manifest.js';
import {
  accessoryBase,
  accessoryChanges,
  accessoryContainerSpec,
  accessoryDirectories,
  accessoryRoot,
  accessorySummary,
  portBinding,
  type AccessorySecrets,
} from '../../../agent/core/accessories.js';
import { bindRefusal, checkRelease, guardrailPolicy } from '../../../agent/core/guardrails.js';
import { DIGEST, minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
const KEY = Buffer.alloc(32, 7);
const policy = guardrailPolicy({ protect: ['/var/lib/berth'], accessoryRoot: '/var/lib/berth/accessories' });

function manifest(db: Record<string, unknown> = {}, over: Record<string, unknown> = {}): ManifestPayload {
  return parseManifestPayload(
    minimalManifest({
      accessories: {
        db: {
          image: `mysql@${DIGEST}`,
          port: '127.0.0.1:3306:3306',
          env: { clear: { MYSQL_DATABASE: 'app' }, secret: { MYSQL_ROOT_PASSWORD: SEALED } },
          files: [{ target: '/etc/mysql/my.cnf', content: SEALED, mode: '0600', owner: '999:999' }],
          directories: [{ source: 'data', target: '/var/lib/mysql' }, { source: '/data/backups', target: '/backups' }],
          ...db,
        },
      },
      ...over,
    }),
  );
}

const secrets = (password = 'hunter2', cnf = '[mysqld]'): AccessorySecrets => ({ env: { MYSQL_ROOT_PASSWORD: password }, files: { '/etc/mysql/my.cnf': cnf } });
const base = (m: ManifestPayload) => accessoryBase(accessoryRoot('/var/lib/berth'), m, 'db');

test('an accessory container: Kamal name and alias, labels, env, port, binds, restart policy, capped logs', () => {
  const m = manifest({}, { destination: 'staging', sub: 'demo@staging' });
  const summary = accessorySummary(m.accessories!.db!, secrets(), KEY);
  const spec = accessoryContainerSpec(m, 'db', { network: 'berth', policy, base: base(m), summary }, { MYSQL_ROOT_PASSWORD: 'hunter2' });
  assert.equal(spec.name, 'demo-db-staging-ggggggg'.slice(0, 'demo-db-staging-'.length + 6));
  assert.deepEqual(spec.aliases, ['demo-db']);
  assert.equal(spec.image, `mysql@${DIGEST}`);
  assert.deepEqual(spec.env, { MYSQL_DATABASE: 'app', MYSQL_ROOT_PASSWORD: 'hunter2' });
  assert.equal(spec.labels['berth.kind'], 'accessory');
  assert.equal(spec.labels['berth.accessory'], 'db');
  assert.equal(spec.labels['berth.destination'], 'staging');
  assert.equal(spec.labels['berth.spec'], summary);
  assert.equal(spec.restartPolicy, 'unless-stopped');
  assert.deepEqual(spec.host.PortBindings, { '3306/tcp': [{ HostIp: '127.0.0.1', HostPort: '3306' }] });
  assert.deepEqual(spec.config.ExposedPorts, { '3306/tcp': {} });
  assert.deepEqual(spec.host.Binds, [
    '/var/lib/berth/accessories/demo@staging/db/files/etc/mysql/my.cnf:/etc/mysql/my.cnf:ro',
    '/var/lib/berth/accessories/demo@staging/db/dirs/data:/var/lib/mysql',
    '/data/backups:/backups',
  ]);
  assert.deepEqual(spec.host.LogConfig, { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
  assert.deepEqual(accessoryDirectories(base(m), m.accessories!.db!), ['/var/lib/berth/accessories/demo@staging/db/dirs/data', '/data/backups']);
  assert.ok(!JSON.stringify(spec.labels).includes('hunter2') && !summary.includes('[mysqld]'), 'no secret value in labels');
});

test('ports: bare, with an address, IPv6 and udp', () => {
  assert.deepEqual(portBinding('8080:80'), { key: '80/tcp', hostIp: '', hostPort: '8080' });
  assert.deepEqual(portBinding('[::1]:53:53/udp'), { key: '53/udp', hostIp: '::1', hostPort: '53' });
});

test('changes name settings, env names and file targets, never values', () => {
  const m = manifest();
  const a = m.accessories!.db!;
  const before = accessorySummary(a, secrets(), KEY);
  assert.deepEqual(accessoryChanges(before, accessorySummary(a, secrets(), KEY)), []);
  assert.deepEqual(accessoryChanges(before, accessorySummary(a, secrets('other'), KEY)), ['env MYSQL_ROOT_PASSWORD']);
  assert.deepEqual(accessoryChanges(before, accessorySummary(a, secrets('hunter2', '[client]'), KEY)), ['file /etc/mysql/my.cnf']);
  const changed = { ...a, image: `mysql@sha256:${'b'.repeat(64)}`, cmd: ['mysqld'], port: '3307:3306', env: { clear: { NEW: '1' }, secret: a.env.secret }, options: { memory: '1g' }, labels: { x: 'y' }, volumes: ['v:/v'] };
  const after = accessorySummary(changed, secrets(), KEY);
  assert.deepEqual(accessoryChanges(before, after), ['image', 'cmd', 'port', 'env MYSQL_DATABASE', 'env NEW', 'volumes', 'options', 'labels']);
  assert.ok(!accessoryChanges(before, after).join(' ').includes('hunter2'));
  assert.deepEqual(accessoryChanges(undefined, after), ['spec'], 'a container without a summary: everything may differ');
  assert.deepEqual(accessoryChanges('not json', after), ['spec']);
});

test('guardrails: accessory options, volumes and absolute directories are checked like roles, and named by the accessory', () => {
  assert.doesNotThrow(() => checkRelease(manifest(), policy));
  assert.throws(() => checkRelease(manifest({ options: { privileged: true } }), policy), (e: Error) => /^accessory db: option privileged is refused/.test(e.message));
  assert.throws(() => checkRelease(manifest({ volumes: ['/etc:/etc'] }), policy), /accessory db: volume "\/etc:\/etc" is refused/);
  assert.throws(() => checkRelease(manifest({ directories: [{ source: '/home/x', target: '/x' }] }), policy), /accessory db: volume "\/home\/x:\/x" is refused.*outside/);
  // A manifest may not name the agent's own accessory data: only the agent builds those paths.
  assert.throws(() => checkRelease(manifest({ directories: [{ source: '/var/lib/berth/accessories/other/db/dirs/data', target: '/x' }] }), policy), /is refused.*\/var\/lib\/berth/);
  assert.throws(() => checkRelease(manifest({ directories: [{ source: '/data/a', target: '/a' }, { source: '/data/a/b', target: '/b' }] }), policy), /guardrails/);
});

test('the bind guard carve-out: only below <state>/accessories, only for paths the agent built', () => {
  const leaf = '/var/lib/berth/accessories/demo/db/dirs/data';
  assert.equal(bindRefusal(leaf, policy, { agentData: true }), undefined);
  assert.ok(bindRefusal(leaf, policy), 'without the agent saying so, the state dir stays protected');
  assert.ok(bindRefusal('/var/lib/berth/accessories', policy, { agentData: true }), 'never the root itself');
  assert.ok(bindRefusal('/var/lib/berth/identity', policy, { agentData: true }));
  assert.ok(bindRefusal('/var/run/docker.sock', policy, { agentData: true }));
});

test("an accessory's options: restart is its own restart policy (Kamal's accessories set restart: always); a value Docker does not know is refused", () => {
  const build = (restart: unknown) => {
    const m = manifest({ options: { restart, memory: '256m' } });
    checkRelease(m, policy);
    const summary = accessorySummary(m.accessories!.db!, secrets(), KEY);
    return accessoryContainerSpec(m, 'db', { network: 'berth', policy, base: base(m), summary }, { MYSQL_ROOT_PASSWORD: 'hunter2' });
  };
  const always = build('always');
  assert.equal(always.restartPolicy, 'always');
  assert.equal(always.restartRetries, undefined);
  assert.equal(always.host.Memory, 256 * 1024 * 1024, 'the other options still apply');
  const retries = build('on-failure:5');
  assert.deepEqual([retries.restartPolicy, retries.restartRetries], ['on-failure', 5]);
  assert.equal(build('no').restartPolicy, 'no');
  assert.throws(() => build('sometimes'), /accessory db: option restart "sometimes" is not a restart policy/);
  // An app role still may not choose its restart policy.
  assert.throws(() => checkRelease(parseManifestPayload(minimalManifest({ roles: { web: { options: { restart: 'always' } } } })), policy), /role web: option restart is refused/);
});

test('file and directory targets are absolute container paths without ".." (the agent keeps each file at that path below its own directory)', () => {
  assert.throws(() => manifest({ files: [{ target: '/../../etc/shadow', content: SEALED }] }), /accessories\.db\.files\[0\]\.target: must not be "\/" nor contain "\.\."/);
  assert.throws(() => manifest({ files: [{ target: '/', content: SEALED }] }), /files\[0\]\.target: must not be "\/"/);
  assert.throws(() => manifest({ directories: [{ source: 'data', target: '/var/../x' }] }), /directories\[0\]\.target/);
  assert.throws(() => manifest({ directories: [{ source: '../up', target: '/x' }] }), /directories\[0\]\.source/);
});
