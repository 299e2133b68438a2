// Where bridged assets live, what a container mounts, which versions' dirs
// retention removes, and the bind guard's carve-out for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assetBind, assetRoleDir, assetRoot, staleAssetVersions, withAssetBind } from '../../../agent/core/assets.js';
import { bindRefusal, guardrailPolicy } from '../../../agent/core/guardrails.js';
import type { ContainerSpec } from '../../../agent/core/containers.js';
import { storedPayload } from '../../support/manifest-fixture.js';

const proxy = { hosts: ['demo.test'], app_port: 80, healthcheck: { path: '/up', interval: 1, timeout: 5 } };
const m = storedPayload({ version: 'r2', destination: 'staging', roles: { web: { env: { clear: {}, secret: {} }, proxy, assets: { path: '/rails/public/assets', selinux: 'z' } }, worker: { env: { clear: {}, secret: {} } } } });

test('the volume of the release version, read-only at the asset path, per service@destination and role', () => {
  const root = assetRoot('/var/lib/berth');
  assert.equal(assetRoleDir(root, m, 'web'), '/var/lib/berth/assets/demo@staging/web');
  assert.equal(assetBind(root, m, 'web'), '/var/lib/berth/assets/demo@staging/web/volumes/r2:/rails/public/assets:ro,z');
  assert.equal(assetBind(root, m, 'worker'), undefined);
  const spec = { host: { Binds: ['/data/x:/x'], LogConfig: { Type: 'json-file', Config: {} } } } as unknown as ContainerSpec;
  assert.deepEqual(withAssetBind(spec, root, m, 'web').host.Binds, ['/data/x:/x', '/var/lib/berth/assets/demo@staging/web/volumes/r2:/rails/public/assets:ro,z']);
  assert.equal(withAssetBind(spec, undefined, m, 'web'), spec, 'no root: no bridged role in this run');
});

test('directories of versions no container holds go, never the release being deployed', () => {
  assert.deepEqual(staleAssetVersions(['r1', 'r2', 'r3', '.r4.abcd.tmp'], new Set(['r2']), 'r3'), ['.r4.abcd.tmp', 'r1']);
});

test('the guard may mount below the asset root; a manifest may not, nor the root itself', () => {
  const policy = guardrailPolicy({ protect: ['/var/lib/berth'], assetRoot: '/var/lib/berth/assets' });
  const leaf = '/var/lib/berth/assets/demo/web/volumes/r2';
  assert.equal(bindRefusal(leaf, policy, { agentData: true }), undefined);
  assert.ok(bindRefusal(leaf, policy), 'a manifest volume there is refused');
  assert.ok(bindRefusal('/var/lib/berth/assets', policy, { agentData: true }));
  assert.ok(bindRefusal('/var/lib/berth/identity', policy, { agentData: true }));
});
