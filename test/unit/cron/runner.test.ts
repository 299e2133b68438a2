// One cron run over a stub Docker port: the container's spec (labels, argv,
// the role's secrets), output redacted before it is kept or streamed, the
// ending, and a start failure that names no secret.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CRON_JOB_LABEL, CRON_KIND, createCronRunner, type OutputChunkText } from '../../../agent/cron/runner.js';
import type { ContainerSpec, DockerPort, ProcessSession } from '../../../agent/docker.js';
import type { JWK } from '../../../shared/api-types.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
const SECRET = 'hunter2-very-secret';

const manifest = parseManifestPayload(
  minimalManifest({
    roles: { web: { env: { clear: { MODE: 'cron' }, secret: { DB_PASSWORD: SEALED } } } },
    cron: { tidy: { schedule: '@hourly', command: ['bin/tidy', '--all'], role: 'web', timeout: 60 } },
  }),
);
const spec = manifest.cron!.tidy!;

function stubDocker(chunks: Array<{ stream: 'stdout' | 'stderr'; data: string }>, exitCode: number | null, seen: ContainerSpec[], fail?: Error) {
  let disposed = 0;
  const docker = {
    runAttached: async (s: ContainerSpec): Promise<ProcessSession> => {
      seen.push(s);
      if (fail) throw fail;
      return {
        output: Readable.from(chunks.map((c) => ({ stream: c.stream, data: Buffer.from(c.data) }))),
        close: () => undefined, write: () => undefined, endInput: () => undefined, resize: async () => undefined,
        exitCode: async () => exitCode,
        dispose: async () => void disposed++,
      };
    },
  } as unknown as DockerPort;
  return { docker, disposed: () => disposed };
}

function runner(docker: DockerPort) {
  return createCronRunner({ docker, hostname: 'test-host', network: 'berth', sealingPrivateJwk: {} as JWK, unseal: async () => SECRET });
}

describe('cron runner', () => {
  it('runs the job\'s argv in a labelled container with the role\'s secrets, and keeps the output with secrets redacted', async () => {
    const seen: ContainerSpec[] = [];
    const stub = stubDocker([{ stream: 'stdout', data: `password=${SECRET.slice(0, 7)}` }, { stream: 'stdout', data: `${SECRET.slice(7)}\n` }, { stream: 'stderr', data: 'done\n' }], 0, seen);
    const streamed: OutputChunkText[] = [];
    const result = await runner(stub.docker)({ manifest, deployId: 1, job: 'tidy', spec }, (c) => streamed.push(c)).done;
    assert.equal(result.outcome, 'succeeded');
    assert.equal(result.exitCode, 0);
    assert.equal(result.output, 'password=[secret DB_PASSWORD]\ndone\n');
    assert.equal(streamed.map((c) => c.data).join('').includes(SECRET), false);
    const [s] = seen;
    assert.deepEqual(s?.cmd, ['bin/tidy', '--all']);
    assert.equal(s?.labels['berth.kind'], CRON_KIND);
    assert.equal(s?.labels[CRON_JOB_LABEL], 'tidy');
    assert.equal(s?.restartPolicy, 'no');
    assert.equal(s?.env.DB_PASSWORD, SECRET, 'the container gets the secret itself');
    assert.equal(s?.env.MODE, 'cron');
    assert.ok(stub.disposed() >= 1, 'the container is removed');
  });

  it('a non-zero exit is a failure that says the code', async () => {
    const stub = stubDocker([], 7, []);
    const result = await runner(stub.docker)({ manifest, deployId: 1, job: 'tidy', spec }).done;
    assert.deepEqual([result.outcome, result.exitCode, result.reason], ['failed', 7, 'exited with code 7']);
  });

  it('a container that cannot start is start_failed, and the reason carries no secret', async () => {
    const stub = stubDocker([], 0, [], new Error('no such image'));
    const result = await runner(stub.docker)({ manifest, deployId: 1, job: 'tidy', spec }).done;
    assert.equal(result.outcome, 'start_failed');
    assert.equal(result.reason, 'could not start: no such image');
    assert.ok(!result.reason.includes(SECRET));
  });

  it('a stop before the container starts ends the run with the stop\'s outcome and starts nothing', async () => {
    const seen: ContainerSpec[] = [];
    const stub = stubDocker([], 0, seen);
    const handle = runner(stub.docker)({ manifest, deployId: 1, job: 'tidy', spec });
    handle.stop('stopped', 'the service was removed');
    const result = await handle.done;
    assert.deepEqual([result.outcome, result.reason], ['stopped', 'the service was removed']);
    assert.equal(seen.length, 0);
  });
});
