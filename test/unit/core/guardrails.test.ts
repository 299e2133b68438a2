// The agent's guardrails: what a release may ask Docker for, whoever signed it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { bindRefusal, checkRelease, guardrailPolicy } from '../../../agent/core/guardrails.js';
import { hostPolicy, resolveBinds } from '../../../agent/engine/bind-paths.js';
import { agentGuardrails, loadAgentConfig } from '../../../agent/config.js';
import { parseAgentArgs } from '../../../agent/cli.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const policy = guardrailPolicy();
const release = (web: Record<string, unknown>) => parseManifestPayload(minimalManifest({ roles: { web } }));

function refused(web: Record<string, unknown>, message: RegExp, hint: RegExp, p = policy): void {
  assert.throws(
    () => checkRelease(release(web), p),
    (e: unknown) => e instanceof UserError && e.code === 'guardrail_refused' && message.test(e.message) && hint.test(e.hint ?? ''),
    JSON.stringify(web),
  );
}

test('positive control: resources, named volumes, binds under /data and /srv, logging pass the default policy', () => {
  checkRelease(
    release({
      volumes: ['/data/storage:/rails/storage', '/srv/app/uploads:/uploads:ro', 'cache:/cache'],
      logging: { driver: 'journald', options: { tag: 'web' } },
      options: { memory: '1g', cpus: 2, ulimit: 'nofile=1024', init: true, user: 'app', 'cap-drop': 'ALL', sysctl: 'net.core.somaxconn=1024' },
    }),
    policy,
  );
});

test('options that hand over the host are refused naming the role and option; no agent flag allows them', () => {
  for (const [name, value] of [['privileged', true], ['pid', 'host'], ['ipc', 'host'], ['uts', 'host'], ['userns', 'host'], ['network', 'host'], ['device', '/dev/sda'], ['security-opt', 'seccomp=unconfined'], ['cgroupns', 'host'], ['restart', 'always']] as const) {
    refused({ options: { [name]: value } }, new RegExp(`^role web: option ${name} is refused by this agent's guardrails`), /no agent setting allows it/);
  }
  refused({ options: { sysctl: 'kernel.panic=1' } }, /option sysctl "kernel.panic=1" is refused.*namespaced/, /no agent setting/);
});

test('added capabilities need --allow-cap on the agent, named in the hint', () => {
  refused({ options: { 'cap-add': 'sys_admin' } }, /^role web: option cap-add SYS_ADMIN is refused/, /berth-agent run --allow-cap SYS_ADMIN/);
  refused({ options: { 'cap-add': ['SYS_NICE'] } }, /cap-add SYS_NICE is refused/, /--allow-cap SYS_NICE/);
  checkRelease(release({ options: { 'cap-add': ['sys_nice', 'CAP_IPC_LOCK'] } }), guardrailPolicy({ allowCaps: ['SYS_NICE', 'ipc_lock'] }));
});

test('bind mounts of the host, Docker, the agent or outside the allowed directories are refused', () => {
  // Host-control paths: refused by default, the hint names the one agent option that allows them.
  for (const source of ['/var/run/docker.sock', '/run/docker.sock', '/', '/proc', '/sys/fs', '/dev', '/var/lib/docker/volumes']) {
    refused({ volumes: [`${source}:/x`] }, /^role web: volume .* is refused by this agent's guardrails: it would give the container the host/, /--allow-host-control-mounts/);
    refused({ options: { volume: `${source}:/x` } }, /^role web: volume .* is refused by this agent's guardrails: it would give the container the host/, /--allow-host-control-mounts/);
  }
  for (const source of ['/var/lib/berth', '/etc/berth', '/var', '/var/lib']) {
    refused({ volumes: [`${source}:/x`] }, /^role web: volume .* is refused by this agent's guardrails: it would give the container the host/, /no agent setting/);
  }
  refused({ volumes: ['/home/me:/x'] }, /outside the host directories this agent allows bind mounts under \(\/data, \/srv\)/, /--allow-bind DIR/);
  refused({ volumes: ['/database:/x'] }, /outside/, /--allow-bind/, policy);
  // An allowed directory never makes a protected path inside it mountable.
  const wide = guardrailPolicy({ allowBinds: ['/var/lib'], protect: [] });
  refused({ volumes: ['/var/lib/docker:/x'] }, /would give the container the host/, /--allow-host-control-mounts/, wide);
  checkRelease(release({ volumes: ['/var/lib/mysql:/var/lib/mysql'] }), wide);
});

test('malformed volumes are refused; relative host paths mean nothing on the agent', () => {
  const bad = (entry: string, message: RegExp) =>
    assert.throws(() => checkRelease(release({ volumes: [entry] }), policy), (e: unknown) => e instanceof UserError && message.test(e.message), entry);
  bad('/data/a', /must be SOURCE:TARGET/);
  bad('/data/a:relative', /absolute container path/);
  bad('/data/../etc:/x', /must not contain "\.\."/);
  bad('./storage:/x', /relative host path means nothing/);
  bad('/data/a:/x:rw,ro', /has a mode other than/);
  bad('/data/a:/x:nocopy', /nocopy, which is for named volumes only/);
  checkRelease(release({ volumes: ['data:/x:nocopy', '/data/a/:/x/'] }), policy);
});

test('bindRefusal judges a resolved host path the same way', () => {
  assert.equal(bindRefusal('/data/x', policy), undefined);
  assert.match(bindRefusal('/var/run/docker.sock', policy)?.reason ?? '', /give the container the host/);
});

test('a bind path that resolves through a symlink into a protected path is refused before Docker sees it', async () => {
  const links: Record<string, string> = { '/data/app/sock': '/var/run/docker.sock', '/data/app/up': '/data/uploads' };
  const realpath = async (p: string) => {
    if (links[p]) return links[p];
    if (p.startsWith('/data/app/missing')) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return p;
  };
  await assert.rejects(
    resolveBinds('web', ['/data/app/sock:/run/docker.sock'], policy, realpath),
    (e: unknown) => e instanceof UserError && /resolves to \/var\/run\/docker.sock on this host and it would give the container the host/.test(e.message),
  );
  assert.deepEqual(
    await resolveBinds('web', ['/data/app/up:/u:ro', '/data/app/missing/dir:/m', 'cache:/c'], policy, realpath),
    ['/data/uploads:/u:ro', '/data/app/missing/dir:/m', 'cache:/c'],
  );
  // An allowed directory that is itself a symlink allows what it resolves to, and nothing else.
  const viaDisk = async (p: string) => p.replace(/^\/data(?=\/|$)/, '/mnt/disk1/data');
  assert.deepEqual(await resolveBinds('web', ['/data/app:/a'], policy, viaDisk), ['/mnt/disk1/data/app:/a']);
  const evil = async (p: string) => (p === '/data/evil' ? '/etc/ssh' : p);
  await assert.rejects(resolveBinds('web', ['/data/evil:/e'], policy, evil), /resolves to \/etc\/ssh on this host and it is outside/);
  // A protected directory that is a symlink protects what it resolves to: a backup root on another disk.
  const onDisk = async (p: string) => p.replace(/^\/backups(?=\/|$)/, '/data/disk/backups');
  const guarded = guardrailPolicy({ allowBinds: ['/data'], protect: ['/backups'] });
  const onHost = await hostPolicy(guarded, onDisk);
  assert.match(bindRefusal('/data/disk/backups/shop', onHost)?.reason ?? '', /give the container the host/);
  assert.match(bindRefusal('/data/disk', onHost)?.reason ?? '', /it holds \/data\/disk\/backups/);
  assert.equal(bindRefusal('/data/disk/other', onHost), undefined);
  // The accessory carve-out is the bind guard's alone: a manifest path that resolves into it is refused.
  const agentPolicy = agentGuardrails({ allowCaps: [], allowBinds: ['/data'], stateDir: '/var/lib/berth', dockerHost: 'unix:///var/run/docker.sock' });
  const intoAccessories = async (p: string) => (p === '/data/steal' ? '/var/lib/berth/accessories/other/db/dirs/data' : p);
  await assert.rejects(resolveBinds('web', ['/data/steal:/s'], agentPolicy, intoAccessories), /resolves to \/var\/lib\/berth\/accessories\/other\/db\/dirs\/data on this host and it would give the container the host/);
});

test('agent flags and env: --allow-cap and --allow-bind repeat; the defaults; ALL and / refused', () => {
  const cmd = parseAgentArgs(['run', '--allow-cap', 'sys_nice', '--allow-cap', 'IPC_LOCK', '--allow-bind', '/mnt/storage']);
  assert.equal(cmd.cmd, 'run');
  const flags = cmd.cmd === 'run' ? cmd.flags : {};
  const config = loadAgentConfig(flags, { BERTH_STATE_DIR: '/tmp/berth-x' });
  assert.deepEqual(config.allowCaps, ['SYS_NICE', 'IPC_LOCK']);
  assert.deepEqual(config.allowBinds, ['/mnt/storage']);
  const fromEnv = loadAgentConfig({}, { BERTH_ALLOW_CAPS: 'NET_ADMIN, sys_time', BERTH_ALLOW_BINDS: '/a,/b/' });
  assert.deepEqual([fromEnv.allowCaps, fromEnv.allowBinds], [['NET_ADMIN', 'SYS_TIME'], ['/a', '/b']]);
  const defaults = loadAgentConfig({}, {});
  assert.deepEqual([defaults.allowCaps, defaults.allowBinds], [[], ['/data', '/srv']]);
  assert.deepEqual(loadAgentConfig({ 'allow-bind': ['none'] }, {}).allowBinds, []);
  assert.throws(() => loadAgentConfig({ 'allow-cap': ['ALL'] }, {}), /--allow-cap ALL is refused/);
  assert.throws(() => loadAgentConfig({ 'allow-bind': ['/'] }, {}), /--allow-bind \/ is refused/);
  assert.throws(() => loadAgentConfig({ 'allow-bind': ['/var'] }, {}), /--allow-bind \/var is refused/);
  assert.throws(() => loadAgentConfig({ 'allow-bind': ['data'] }, {}), /must be an absolute directory/);
  // The agent's own state dir and Docker socket are protected wherever they are.
  const p = agentGuardrails({ ...loadAgentConfig({ 'allow-bind': ['/data'] }, { BERTH_STATE_DIR: '/data/berth', DOCKER_HOST: 'unix:///data/docker.sock' }) });
  assert.match(bindRefusal('/data/berth/sealing.jwk', p)?.reason ?? '', /give the container the host/);
  assert.match(bindRefusal('/data/docker.sock', p)?.reason ?? '', /give the container the host/);
  assert.equal(bindRefusal('/data/app', p), undefined);
  // So are the backup roots (every service's backups), below an allowed directory too.
  const b = agentGuardrails(loadAgentConfig({ 'allow-bind': ['/srv'], 'backup-dir': ['/srv/backups'] }, { BERTH_STATE_DIR: '/var/lib/berth' }));
  assert.match(bindRefusal('/srv/backups', b)?.reason ?? '', /give the container the host/);
  assert.match(bindRefusal('/srv/backups/app/db', b)?.reason ?? '', /give the container the host/);
  assert.match(bindRefusal('/srv', b)?.reason ?? '', /it holds \/srv\/backups/);
  assert.equal(bindRefusal('/srv/app', b), undefined);
  assert.throws(() => loadAgentConfig({ 'backup-dir': ['//'] }, {}), /--backup-dir \/ is refused/);
});
