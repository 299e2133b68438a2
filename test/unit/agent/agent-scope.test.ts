// The agent's view of a shared Docker engine: only its own containers, and
// everything it creates labeled with its id (agent/agent-scope.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adoptsByDeployRecord, scopeToAgent } from '../../../agent/agent-scope.js';
import type { ContainerInfo, ContainerSpec, DockerPort } from '../../../agent/docker.js';
import type { DeployRecord } from '../../../shared/api-types.js';
import { ConflictError } from '../../../shared/errors.js';

const ME = 'M'.repeat(43);
const OTHER = 'O'.repeat(43);

function info(id: string, labels: Record<string, string>): ContainerInfo {
  return { id, name: id, running: true, state: 'running', exitCode: null, ip: null, labels, createdAt: 0 };
}

const app = (more: Record<string, string>) => ({ 'berth.kind': 'app', 'berth.service': 'web', 'berth.destination': '', 'berth.release': 'r1', 'berth.role': 'web', ...more });
const engine = [
  info('mine', app({ 'berth.agent': ME, 'berth.deploy': '1' })),
  info('theirs', app({ 'berth.agent': OTHER, 'berth.deploy': '1' })),
  info('legacy-mine', app({ 'berth.deploy': '1' })),
  info('legacy-theirs', app({ 'berth.deploy': '2' })),
  info('not-berth', { 'com.example': 'x' }),
];

/** Volumes already on the engine: one another agent made, one made by hand. */
const volumes = new Map<string, Record<string, string>>([
  ['their-db', { 'berth.agent': OTHER, 'berth.kind': 'volume' }],
  ['by-hand', {}],
]);

function fakeDocker() {
  const calls: string[] = [];
  const created: ContainerSpec[] = [];
  const docker = {
    async listContainers() {
      return engine;
    },
    async inspect(id: string) {
      return engine.find((c) => c.id === id);
    },
    async createContainer(spec: ContainerSpec) {
      calls.push(`create ${spec.name}`);
      created.push(spec);
      return 'new';
    },
    async runAttached(spec: ContainerSpec) {
      calls.push(`run ${spec.name}`);
      created.push(spec);
      return {} as never;
    },
    async ensureVolume(name: string, labels: Record<string, string>) {
      calls.push(`volume ${name} ${JSON.stringify(labels)}`);
      // Volumes that already exist answer with their own labels.
      return volumes.get(name) ?? labels;
    },
    async ensureNetwork(name: string, _subnet: string, labels?: Record<string, string>) {
      calls.push(`network ${name} ${JSON.stringify(labels)}`);
    },
  } as unknown as DockerPort;
  return { docker, calls, created };
}

// Deploy 1 of web r1 is in this agent's database; deploy 2 is not.
const deploys = new Map<number, Partial<DeployRecord>>([[1, { id: 1, service: 'web', destination: '', version: 'r1' }]]);
const store = { getDeploy: (id: number) => deploys.get(id) as DeployRecord | undefined };

test("listings and lookups show this agent's containers, adopted older ones, and no other agent's", async () => {
  const { docker } = fakeDocker();
  const scoped = scopeToAgent(docker, { agentId: ME, adoptsLegacy: adoptsByDeployRecord(store) });
  assert.deepEqual((await scoped.listContainers({ 'berth.kind': 'app' }, true)).map((c) => c.id), ['mine', 'legacy-mine', 'not-berth']);
  assert.equal(await scoped.inspect('theirs'), undefined);
  assert.equal(await scoped.inspect('legacy-theirs'), undefined);
  assert.equal((await scoped.inspect('mine'))?.id, 'mine');
  assert.equal((await scoped.inspect('not-berth'))?.id, 'not-berth', 'a non-Berth container holding a name is still seen');
});

test('what the agent creates carries its id, even over a label the spec brought; named volumes are created first', async () => {
  const { docker, calls, created } = fakeDocker();
  const scoped = scopeToAgent(docker, { agentId: ME, adoptsLegacy: () => false });
  const spec = {
    name: 'web-web-r1-MMMMMM',
    labels: { 'berth.kind': 'app', 'berth.agent': OTHER },
    host: { Binds: ['data:/data', '/srv/x:/x:ro', 'data:/again', 'cache:/cache:ro'] },
  } as unknown as ContainerSpec;
  await scoped.createContainer(spec);
  await scoped.runAttached({ ...spec, name: 'exec', host: { LogConfig: { Type: 'none', Config: {} } } }, { tty: false, stdin: false });
  await scoped.ensureNetwork('berth', '10.0.0.0/24');
  const volumeLabels = JSON.stringify({ 'berth.agent': ME, 'berth.kind': 'volume' });
  assert.deepEqual(calls, [
    `volume data ${volumeLabels}`,
    `volume cache ${volumeLabels}`,
    'create web-web-r1-MMMMMM',
    'run exec',
    `network berth ${JSON.stringify({ 'berth.agent': ME })}`,
  ]);
  assert.deepEqual(created.map((s) => s.labels['berth.agent']), [ME, ME]);
});

test('an unlabeled container is adopted only when its deploy, service, destination and release match a deploy of this agent', () => {
  const adopts = adoptsByDeployRecord(store);
  assert.equal(adopts(app({ 'berth.deploy': '1' })), true);
  assert.equal(adopts(app({ 'berth.deploy': '1', 'berth.release': 'r2' })), false);
  assert.equal(adopts(app({ 'berth.deploy': '1', 'berth.service': 'api' })), false);
  assert.equal(adopts(app({ 'berth.deploy': '1', 'berth.destination': 'staging' })), false);
  for (const deploy of ['2', '', '01', '1e3', '-1']) assert.equal(adopts(app({ 'berth.deploy': deploy })), false, deploy);
});

test("another agent's named volume is refused before anything is created; an unlabeled one is used", async () => {
  const { docker, calls } = fakeDocker();
  const scoped = scopeToAgent(docker, { agentId: ME, adoptsLegacy: () => false });
  const spec = (binds: string[]) => ({ name: 'web-web-r2-MMMMMM', labels: {}, host: { Binds: binds } }) as unknown as ContainerSpec;
  await assert.rejects(scoped.createContainer(spec(['their-db:/var/lib/db'])), (e: unknown) =>
    e instanceof ConflictError && e.code === 'volume_not_ours' && /^volume their-db belongs to another Berth agent on this Docker engine \(OOOOOOOOOOOO…\)$/.test(e.message));
  await assert.rejects(scoped.runAttached(spec(['their-db:/db:ro']), { tty: false, stdin: false }), /volume their-db belongs to another Berth agent/);
  assert.ok(!calls.some((c) => c.startsWith('create') || c.startsWith('run')), calls.join('\n'));
  await scoped.createContainer(spec(['by-hand:/data']));
  assert.equal(calls.at(-1), 'create web-web-r2-MMMMMM');
});
