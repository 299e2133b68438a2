// The bind guard in front of Docker: every create and every start Berth makes
// judges the host paths again, against the policy and every container's binds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../../shared/errors.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { guardBinds } from '../../../agent/engine/bind-guard.js';
import type { ContainerInfo, ContainerSpec, DockerPort, EngineBindMount } from '../../../agent/docker.js';

interface Fake {
  port: DockerPort;
  calls: string[];
  mounts: EngineBindMount[];
  containers: Map<string, ContainerInfo>;
}

function fakeDocker(): Fake {
  const calls: string[] = [];
  const mounts: EngineBindMount[] = [];
  const containers = new Map<string, ContainerInfo>();
  const port = {
    async createContainer(spec: ContainerSpec) {
      calls.push(`create ${spec.name}`);
      return `id-${spec.name}`;
    },
    async start(id: string) {
      calls.push(`start ${id}`);
    },
    async runAttached(spec: ContainerSpec) {
      calls.push(`run ${spec.name}`);
      return {} as never;
    },
    async inspect(id: string) {
      return containers.get(id);
    },
    async engineBindMounts() {
      return mounts;
    },
  } as unknown as DockerPort;
  return { port, calls, mounts, containers };
}

const policy = guardrailPolicy({ allowBinds: ['/srv'] });
/** A host where /srv/x/sub became a symlink to /var/lib/berth. */
const realpath = async (p: string) => {
  if (p === '/srv/x/sub' || p.startsWith('/srv/x/sub/')) return p.replace('/srv/x/sub', '/var/lib/berth');
  return p;
};
const spec = (name: string, binds: string[]) => ({ name, host: { Binds: binds } }) as unknown as ContainerSpec;
const info = (id: string, binds: { source: string; writable: boolean }[]): ContainerInfo =>
  ({ id, name: `c-${id}`, running: false, state: 'exited', exitCode: 0, ip: null, labels: {}, createdAt: 0, binds });

const refusedWith = (re: RegExp) => (e: unknown) => e instanceof UserError && e.code === 'guardrail_refused' && re.test(e.message);

test('create: a bind inside a directory another container can write is refused and nothing is created', async () => {
  const f = fakeDocker();
  f.mounts.push({ id: 'other', name: 'shop-web-v1', source: '/srv/a', writable: true });
  const docker = guardBinds(f.port, policy, realpath);
  await assert.rejects(docker.createContainer(spec('demo-web-v2', ['/srv/a/b:/b:ro'])), refusedWith(/^demo-web-v2: refused by this agent's guardrails: host path \/srv\/a\/b \(container demo-web-v2\) lies inside \/srv\/a, which container shop-web-v1 can write/));
  await assert.rejects(docker.runAttached(spec('demo-web-v2-exec', ['/srv:/all']), {} as never), refusedWith(/host path \/srv\/a \(container shop-web-v1\) lies inside \/srv, which container demo-web-v2-exec can write/));
  assert.deepEqual(f.calls, []);
  // Named volumes and siblings pass.
  await docker.createContainer(spec('demo-web-v3', ['cache:/cache', '/srv/b:/b', '/srv/a:/a']));
  assert.deepEqual(f.calls, ['create demo-web-v3']);
});

test('start: a retained container whose bind now resolves through a symlink is not started', async () => {
  const f = fakeDocker();
  f.containers.set('r1', info('r1', [{ source: '/srv/x/sub', writable: false }]));
  f.containers.set('r2', info('r2', [{ source: '/srv/y', writable: true }]));
  const docker = guardBinds(f.port, policy, realpath);
  await assert.rejects(docker.start('r1'), refusedWith(/^c-r1: refused .*host path \/srv\/x\/sub now resolves to \/var\/lib\/berth: a directory on the way was replaced by a symlink/));
  await docker.start('r2');
  assert.deepEqual(f.calls, ['start r2']);
});

test('start: a container is judged against the binds of others, not its own, and against today\'s policy', async () => {
  const f = fakeDocker();
  f.containers.set('r3', info('r3', [{ source: '/srv/q', writable: true }]));
  f.mounts.push({ id: 'r3', name: 'c-r3', source: '/srv/q', writable: true });
  const docker = guardBinds(f.port, policy, realpath);
  await docker.start('r3');
  f.mounts.push({ id: 'late', name: 'late', source: '/srv/q/inner', writable: false });
  await assert.rejects(docker.start('r3'), refusedWith(/host path \/srv\/q\/inner \(container late\) lies inside \/srv\/q, which container c-r3 can write/));
  const tightened = guardBinds(f.port, guardrailPolicy({ allowBinds: ['/data'] }), realpath);
  f.mounts.pop();
  await assert.rejects(tightened.start('r3'), refusedWith(/host path \/srv\/q: it is outside the host directories this agent allows/));
  assert.deepEqual(f.calls, ['start r3']);
});

test('creates are judged one at a time: two racing creates cannot both pass against each other', async () => {
  const f = fakeDocker();
  const created: string[] = [];
  const base = f.port;
  const port = {
    ...base,
    async createContainer(s: ContainerSpec) {
      await new Promise((r) => setTimeout(r, 5));
      for (const b of s.host.Binds ?? []) {
        const [source = '', , mode = ''] = b.split(':');
        f.mounts.push({ id: s.name, name: s.name, source, writable: mode !== 'ro' });
      }
      created.push(s.name);
      return s.name;
    },
  } as DockerPort;
  const docker = guardBinds(port, policy, realpath);
  const results = await Promise.allSettled([docker.createContainer(spec('outer', ['/srv/p:/p'])), docker.createContainer(spec('inner', ['/srv/p/q:/q:ro']))]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected']);
  assert.deepEqual(created, ['outer']);
});

test("create: a nesting bind another agent made at the same moment is caught after the create, and ours is removed", async () => {
  const f = fakeDocker();
  const removed: string[] = [];
  const port = {
    ...f.port,
    async createContainer(s: ContainerSpec) {
      // Another agent's container appears between our check and our create.
      f.mounts.push({ id: 'theirs', name: 'other-agent-web', source: '/srv/p', writable: true });
      f.mounts.push({ id: `id-${s.name}`, name: s.name, source: '/srv/p/q', writable: false });
      return `id-${s.name}`;
    },
    async remove(id: string) {
      removed.push(id);
    },
  } as DockerPort;
  const docker = guardBinds(port, policy, realpath);
  await assert.rejects(docker.createContainer(spec('mine', ['/srv/p/q:/q:ro'])), refusedWith(/host path \/srv\/p\/q \(container mine\) lies inside \/srv\/p, which container other-agent-web can write/));
  assert.deepEqual(removed, ['id-mine']);
});

test('the agent\'s accessory data below <state>/accessories may be mounted; the state dir and the root itself may not', async () => {
  const f = fakeDocker();
  const withRoot = guardrailPolicy({ allowBinds: ['/srv'], protect: ['/var/lib/berth'], accessoryRoot: '/var/lib/berth/accessories' });
  const docker = guardBinds(f.port, withRoot, realpath);
  await docker.createContainer(spec('demo-db-gggggg', ['/var/lib/berth/accessories/demo/db/dirs/data:/var/lib/mysql', '/var/lib/berth/accessories/demo/db/files/etc/my.cnf:/etc/my.cnf:ro']));
  await assert.rejects(docker.createContainer(spec('demo-x', ['/var/lib/berth/accessories:/all'])), refusedWith(/host path \/var\/lib\/berth\/accessories: it would give the container the host/));
  await assert.rejects(docker.createContainer(spec('demo-y', ['/var/lib/berth:/state'])), refusedWith(/it would give the container the host/));
  // Without the carve-out configured, the state dir stays closed entirely.
  await assert.rejects(guardBinds(f.port, guardrailPolicy({ protect: ['/var/lib/berth'] }), realpath).createContainer(spec('demo-z', ['/var/lib/berth/accessories/demo/db/dirs/data:/d'])), refusedWith(/would give the container the host/));
  assert.deepEqual(f.calls, ['create demo-db-gggggg']);
});
