// An NFS mount from options.mount becomes a named volume of the local driver,
// created by the agent with its labels and the export's options before the
// container; an existing volume with other options is never mounted in its place.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ConflictError } from '../../../shared/errors.js';
import { createDockerPort } from '../../../agent/docker.js';
import { scopeToAgent } from '../../../agent/agent-scope.js';
import { defaultLogConfig } from '../../../agent/core/containers.js';
import { optionMounts } from '../../../agent/core/option-mounts.js';
import { docker, dockerOk } from '../../support/docker-cli.js';
import { testEnv } from '../../support/env.js';

const host = testEnv().engines[0]!.host;
const image = testEnv().images.v1;
const suffix = randomBytes(4).toString('hex');
const volume = `berth-nfs-${suffix}`;
const names: string[] = [];
after(async () => {
  await docker(host, ['rm', '-f', ...names]).catch(() => undefined);
  await docker(host, ['volume', 'rm', '-f', volume]).catch(() => undefined);
});

const mount = (addr: string) => `type=volume,source=${volume},target=/media,volume-opt=type=nfs,"volume-opt=o=addr=${addr},nfsvers=4",volume-opt=device=:/exports/media`;

function spec(name: string, addr: string) {
  const m = optionMounts('web', { mount: mount(addr) });
  names.push(name);
  return {
    name, image, env: {}, labels: {}, network: 'bridge', restartPolicy: 'no' as const,
    host: { Binds: [`${volume}:/media`], LogConfig: defaultLogConfig() }, config: {}, volumeOptions: m.volumeOptions,
  };
}

test('the NFS volume is created scoped to the agent, with the export options; other options or another agent are refused', async () => {
  await dockerOk(host, ['pull', image]);
  const agentId = `agent-${suffix}`;
  const port = scopeToAgent(createDockerPort(host), { agentId, adoptsLegacy: () => false });
  // Created, not started: Docker mounts the export only at start, and no NFS server is needed to judge this.
  await port.createContainer(spec(`nfs-a-${suffix}`, '10.0.0.5'));
  const [info] = JSON.parse(await dockerOk(host, ['volume', 'inspect', volume])) as { Driver: string; Options: Record<string, string>; Labels: Record<string, string> }[];
  assert.equal(info?.Driver, 'local');
  assert.deepEqual(info?.Options, { type: 'nfs', o: 'addr=10.0.0.5,nfsvers=4', device: ':/exports/media' });
  assert.equal(info?.Labels['berth.agent'], agentId);
  await port.createContainer(spec(`nfs-b-${suffix}`, '10.0.0.5'));

  await assert.rejects(port.createContainer(spec(`nfs-c-${suffix}`, '10.0.0.6')), (e: unknown) => e instanceof ConflictError && e.code === 'volume_options_differ');
  const other = scopeToAgent(createDockerPort(host), { agentId: `other-${suffix}`, adoptsLegacy: () => false });
  await assert.rejects(other.createContainer(spec(`nfs-d-${suffix}`, '10.0.0.5')), (e: unknown) => e instanceof ConflictError && e.code === 'volume_not_ours');
  const made = (await dockerOk(host, ['ps', '-a', '--filter', `name=nfs-.-${suffix}`, '--format', '{{.Names}}'])).trim().split('\n').sort();
  assert.deepEqual(made, [`nfs-a-${suffix}`, `nfs-b-${suffix}`]);
});
