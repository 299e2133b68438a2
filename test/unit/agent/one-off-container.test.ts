// A one-off container (exec, cron) of a role that publishes ports or has a
// network alias runs beside the app container: it takes neither.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { guardrailPolicy } from '../../../agent/core/guardrails.js';
import { parsePublishAllowance } from '../../../agent/core/publish-policy.js';
import { oneOffContainerSpec } from '../../../agent/ops/one-off-container.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

test("a one-off keeps the role's options but not its host ports nor its network aliases", async () => {
  const manifest = parseManifestPayload(minimalManifest({
    roles: { web: { options: { publish: '4001:4001/udp', 'network-alias': 'search', 'security-opt': 'no-new-privileges', memory: '256m' } } },
  }));
  const deps = { hostname: 'h', network: 'berth', sealingPrivateJwk: {}, guardrails: guardrailPolicy({ allowPublish: parsePublishAllowance(['all']) }) };
  const { spec } = await oneOffContainerSpec(deps, { manifest, deployId: 1, role: 'web', cmd: ['true'], kind: 'exec', suffix: 'exec' });
  assert.equal(spec.host.PortBindings, undefined);
  assert.equal(spec.aliases, undefined);
  assert.deepEqual(spec.host.SecurityOpt, ['no-new-privileges:true']);
  assert.equal(spec.host.Memory, 256 * 1024 * 1024);
});
