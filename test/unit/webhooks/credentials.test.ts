// The registry login a webhook's tag lookup uses: the release's sealed
// password, opened with the agent's sealing key; none without a registry.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registryCredentials } from '../../../agent/webhooks/credentials.js';
import { generateIdentityKeys } from '../../../shared/keys.js';
import type { ManifestPayload } from '../../../shared/manifest.js';
import { seal } from '../../../shared/sealing.js';

describe('webhook registry credentials', () => {
  it('opens the sealed registry password of the release, and gives none without a registry', async () => {
    const keys = await generateIdentityKeys();
    const password = await seal('ci-password', keys.sealing.publicJwk, { use: 'registry-password', service: 'app', destination: '', server: 'registry.test' });
    const open = registryCredentials(keys.sealing.privateJwk);
    const payload = { service: 'app', destination: '', registry: { server: 'registry.test', username: 'ci', password } } as unknown as ManifestPayload;
    assert.deepEqual(await open(payload), { username: 'ci', password: 'ci-password' });
    assert.equal(await open({ service: 'app', destination: '' } as unknown as ManifestPayload), undefined);
    // Sealed for another service: refused, and the error names no password.
    const other = { ...payload, service: 'web' } as ManifestPayload;
    await assert.rejects(open(other), (e: Error) => !e.message.includes('ci-password'));
  });
});
