// The verify step's output is kept in the record (read scope sees it): the
// accessory's secret values never appear in it, also when the throwaway
// container died and its own log is what is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyDump } from '../../../agent/backups/verify.js';
import type { JWK } from '../../../shared/api-types.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { backupSchema } from '../../../shared/manifest-backups.js';
import { FakeDocker } from '../../support/fake-docker.js';
import { DIGEST, minimalManifest } from '../../support/manifest-fixture.js';

const SEALED = 'eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn';
const PASSWORD = 'hunter2-very-secret';

test('a throwaway container that stopped: its log tail is kept with the secret values replaced', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-verify-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const m = parseManifestPayload(minimalManifest({ accessories: { db: { image: `postgres@${DIGEST}`, env: { clear: {}, secret: { POSTGRES_PASSWORD: SEALED } } } } }));
  const docker = new FakeDocker();
  docker.exitOnStart = () => 1;
  docker.logTail = async () => `starting with password ${PASSWORD}\nFATAL: cannot start\n`;
  const spec = backupSchema.parse({ kind: 'accessory', accessory: 'db', dump: ['pg_dump'], restore: ['pg_restore'], verify: ['true'] });
  const result = await verifyDump(
    { docker, agentId: 'agent-1', stateDir, network: 'berth', sealingPrivateJwk: {} as JWK, unseal: async () => PASSWORD },
    { service: m.service, destination: m.destination, backup: 'db', spec, accessory: m.accessories!.db!, file: join(stateDir, 'none'), compression: 'zstd', signal: new AbortController().signal },
  );
  assert.equal(result.passed, false);
  assert.match(result.output, /FATAL: cannot start/);
  assert.match(result.output, /\[secret POSTGRES_PASSWORD\]/);
  assert.ok(!result.output.includes(PASSWORD), result.output);
  assert.equal(docker.containers.size, 0, 'the throwaway container is removed');
});
