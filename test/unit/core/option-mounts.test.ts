// options.volume / mount / publish / network-alias / security-opt at the agent:
// binds meet exactly the guardrails of volumes:, host ports and host-control
// mounts need the owner's option, and the container spec carries what passed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { bindRefusal, checkRelease, guardrailPolicy, type GuardrailPolicy } from '../../../agent/core/guardrails.js';
import { containerSpec } from '../../../agent/core/containers.js';
import { optionMounts } from '../../../agent/core/option-mounts.js';
import { parsePublishAllowance } from '../../../agent/core/publish-policy.js';
import { agentGuardrails, loadAgentConfig } from '../../../agent/config.js';
import { parseAgentArgs } from '../../../agent/cli.js';
import { resolveBinds } from '../../../agent/engine/bind-paths.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const policy = guardrailPolicy();
const release = (web: Record<string, unknown>, extra: Record<string, unknown> = {}) => parseManifestPayload(minimalManifest({ roles: { web }, ...extra }));
const ctx = (p: GuardrailPolicy = policy) => ({ deployId: 1, hostname: 'h', network: 'berth', fingerprint: 'f'.repeat(32), policy: p });

function refused(web: Record<string, unknown>, message: RegExp, hint: RegExp, p = policy, extra: Record<string, unknown> = {}): void {
  assert.throws(
    () => checkRelease(release(web, extra), p),
    (e: unknown) => e instanceof UserError && e.code === 'guardrail_refused' && message.test(e.message) && hint.test(e.hint ?? ''),
    JSON.stringify(web),
  );
}

test('options.volume and bind mounts meet the same guardrails as volumes:', () => {
  checkRelease(release({ options: { volume: ['/data/cfg:/etc/app:ro', 'cache:/cache'], mount: 'type=bind,source=/srv/x,target=/x,readonly' } }), policy);
  refused({ options: { volume: '/home/me:/x' } }, /^role web: volume "\/home\/me:\/x" is refused.*outside the host directories/, /--allow-bind/);
  refused({ options: { mount: 'type=bind,source=/home/me,target=/x' } }, /^role web: volume "\/home\/me:\/x" is refused.*outside/, /--allow-bind/);
  refused({ options: { mount: 'type=bind,source=/var/lib/berth,target=/x' } }, /would give the container the host/, /no agent setting/);
  refused({ options: { mount: 'type=bind,source=/var/run/docker.sock,target=/s' } }, /would give the container the host/, /--allow-host-control-mounts/);
  refused({ options: { mount: 'type=bind,source=/data/x,target=/x,bind-propagation=rshared' } }, /^role web: options\.mount ".*" bind-propagation=rshared is refused/, /^$/);
  assert.throws(() => checkRelease(release({ options: { volume: '/data/a/../../etc:/x' } }), policy), /must not contain "\.\."/);
  refused({ volumes: ['/data/a:/x'], options: { volume: '/data/b:/x/' } }, /^role web: two volumes or mounts at \/x$/, /one thing/);
  // Nesting across volumes: and options: — a writable outer bind makes the inner one redirectable.
  refused({ volumes: ['/data:/d'], options: { volume: '/data/app:/a' } }, /lies inside \/data/, /sibling/);
});

test('a bind from options.volume that resolves through a symlink is judged where it leads', async () => {
  const realpath = async (p: string) => (p === '/data/app/sock' ? '/var/run/docker.sock' : p);
  const m = release({ options: { volume: '/data/app/sock:/var/run/docker.sock' } });
  // What hostContainerSpec does with every spec's binds, here with a stand-in for the host's realpath.
  await assert.rejects(resolveBinds('web', containerSpec(m, 'web', ctx(), {}).host.Binds ?? [], policy, realpath), /resolves to \/var\/run\/docker.sock/);
});

test('publish needs --allow-publish covering each host port; the hint names it; replicas cannot share a host port', () => {
  refused({ options: { publish: '4001:4001/udp' } }, /^role web: option publish 4001\/udp is refused.*this agent allows: none/, /berth-agent run --allow-publish 4001/);
  const some = guardrailPolicy({ allowPublish: parsePublishAllowance(['4001', '8000-8100']) });
  checkRelease(release({ options: { publish: ['4001:4001/tcp', '4001:4001/udp', '127.0.0.1:8080:80'] } }), some);
  refused({ options: { publish: '80:80' } }, /publish 80\/tcp is refused.*allows: 4001,8000-8100/, /--allow-publish 80/, some);
  const all = guardrailPolicy({ allowPublish: parsePublishAllowance(['all']) });
  checkRelease(release({ options: { publish: '80:80' } }), all);
  refused({ options: { publish: '80:80' }, replicas: 2 }, /publish cannot be combined with replicas: 2/, /one replica/, all);
  assert.throws(() => checkRelease(release({ options: { publish: '1-65535:1-65535' } }), all), /options\.publish .* at most 100/);
  assert.throws(() => parsePublishAllowance(['0']), /not all, a port/);
  assert.throws(() => parsePublishAllowance(['9-1']), /not all, a port/);
});

test('security-opt passes only no-new-privileges; other values are refused with their reason', () => {
  checkRelease(release({ options: { 'security-opt': 'no-new-privileges:true' } }), policy);
  for (const [v, why] of [['seccomp=unconfined', /seccomp/], ['apparmor=unconfined', /AppArmor/], ['label=disable', /SELinux/], ['systempaths=unconfined', /unmasks/]] as const) {
    refused({ options: { 'security-opt': ['no-new-privileges', v] } }, new RegExp(`^role web: option security-opt is refused.*${why.source}`), /no agent setting/);
  }
});

test('the container spec: binds and named volumes, NFS driver options, tmpfs, SecurityOpt, published ports, aliases', () => {
  const p = guardrailPolicy({ allowPublish: parsePublishAllowance(['all']) });
  const nfs = 'type=volume,source=media,target=/media,volume-opt=type=nfs,"volume-opt=o=addr=10.0.0.5,nfsvers=4",volume-opt=device=:/exports/media';
  const spec = containerSpec(
    release({
      volumes: ['/data/a:/a'],
      options: {
        volume: '/data/cfg:/cfg:ro',
        mount: ['type=tmpfs,target=/scratch,tmpfs-size=64m', nfs],
        tmpfs: '/run/app',
        publish: ['4001:4001/tcp', '4001:4001/udp', '127.0.0.1:9000:9000'],
        'network-alias': ['search', 'Search.internal'],
        'security-opt': 'no-new-privileges',
      },
    }),
    'web',
    ctx(p),
    {},
  );
  assert.deepEqual(spec.host.Binds, ['/data/a:/a', '/data/cfg:/cfg:ro', 'media:/media']);
  assert.deepEqual(spec.volumeOptions, { media: { type: 'nfs', o: 'addr=10.0.0.5,nfsvers=4', device: ':/exports/media' } });
  assert.deepEqual(spec.host.Tmpfs, { '/scratch': 'size=64m', '/run/app': '' });
  assert.deepEqual(spec.host.SecurityOpt, ['no-new-privileges:true']);
  assert.deepEqual(spec.host.PortBindings, {
    '4001/tcp': [{ HostIp: '', HostPort: '4001' }],
    '4001/udp': [{ HostIp: '', HostPort: '4001' }],
    '9000/tcp': [{ HostIp: '127.0.0.1', HostPort: '9000' }],
  });
  assert.deepEqual(Object.keys(spec.config.ExposedPorts ?? {}).sort(), ['4001/tcp', '4001/udp', '9000/tcp']);
  assert.deepEqual(spec.aliases, ['search', 'search.internal']);
  assert.throws(() => optionMounts('web', { mount: [nfs, nfs.replace('nfsvers=4', 'nfsvers=3')] }), /two different sets of NFS options/);
  assert.throws(() => containerSpec(release({ options: { 'network-alias': 'bad alias' } }), 'web', ctx(), {}), /options\.network-alias .*not a host name/);
});

test('--allow-host-control-mounts: the socket, /, kernel and engine paths pass; the agent’s own files never do', () => {
  const cmd = parseAgentArgs(['run', '--allow-host-control-mounts', '--allow-publish', '4001', '--allow-publish', '8000-8010,9000']);
  const flags = cmd.cmd === 'run' ? cmd.flags : {};
  const config = loadAgentConfig(flags, { BERTH_STATE_DIR: '/var/lib/berth' });
  assert.equal(config.hostControlMounts, true);
  assert.deepEqual(config.allowPublish.ranges, [[4001, 4001], [8000, 8010], [9000, 9000]]);
  assert.equal(loadAgentConfig({}, {}).hostControlMounts, false);
  assert.equal(loadAgentConfig({}, { BERTH_ALLOW_HOST_CONTROL_MOUNTS: '1', BERTH_ALLOW_PUBLISH: 'all' }).hostControlMounts, true);
  assert.equal(loadAgentConfig({}, { BERTH_ALLOW_PUBLISH: 'all' }).allowPublish.any, true);
  assert.throws(() => loadAgentConfig({}, { BERTH_ALLOW_HOST_CONTROL_MOUNTS: 'yes please' }), /must be 1, true, 0 or false/);
  assert.throws(() => loadAgentConfig({ 'allow-publish': ['http'] }, {}), /--allow-publish "http" is not all/);
  const p = agentGuardrails({ ...config, backups: { roots: ['/srv/backups'], maxRunning: 1, minIntervalS: 60 } });
  for (const ok of ['/var/run/docker.sock', '/run/docker.sock', '/', '/proc', '/sys', '/dev/disk', '/var/lib/docker/containers', '/run']) {
    assert.equal(bindRefusal(ok, p), undefined, ok);
  }
  for (const no of ['/var/lib/berth', '/var/lib/berth/identity.jwk', '/etc/berth', '/srv/backups/x', '/var', '/etc']) {
    assert.ok(bindRefusal(no, p), no);
  }
  checkRelease(release({ volumes: ['/var/run/docker.sock:/var/run/docker.sock'], options: { mount: 'type=bind,source=/,target=/rootfs,readonly' } }), p);
  // An engine socket elsewhere is a host-control path too, and still refused by default.
  const elsewhere = agentGuardrails(loadAgentConfig({}, { DOCKER_HOST: 'unix:///srv/docker.sock' }));
  assert.match(bindRefusal('/srv/docker.sock', elsewhere)?.hint ?? '', /--allow-host-control-mounts/);
  const allowed = agentGuardrails(loadAgentConfig({}, { DOCKER_HOST: 'unix:///srv/docker.sock', BERTH_ALLOW_HOST_CONTROL_MOUNTS: 'true' }));
  assert.equal(bindRefusal('/srv/docker.sock', allowed), undefined);
});
