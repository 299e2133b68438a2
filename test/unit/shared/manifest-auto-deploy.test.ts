// The auto_deploy policy as the manifest carries it: a tag pattern, the
// webhook sources accepted (a sealed secret exactly for those that verify
// with one) and an optional poll interval.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserError } from '../../../shared/errors.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

// The shape of a sealed value; the schema checks the form, the agent opens it (sealed-values.test.ts).
const SEALED = `${'e'.repeat(40)}..${'i'.repeat(16)}.${'c'.repeat(24)}.${'t'.repeat(22)}`;

function withPolicy(policy: unknown): Record<string, unknown> {
  return minimalManifest({ auto_deploy: policy });
}

function refused(policy: unknown, message: RegExp): void {
  assert.throws(
    () => parseManifestPayload(withPolicy(policy)),
    (e: unknown) => {
      assert.ok(e instanceof UserError, `expected UserError, got ${String(e)}`);
      assert.equal(e.status, 400);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('manifest auto_deploy', () => {
  it('is optional', () => {
    assert.equal(parseManifestPayload(minimalManifest()).auto_deploy, undefined);
  });

  it('accepts every source, each with a secret exactly when it verifies with one, and a poll', () => {
    const policy = {
      tag: '~1.4',
      sources: [
        { name: 'distribution', secret: SEALED },
        { name: 'dockerhub' },
        { name: 'github', secret: SEALED },
        { name: 'harbor', secret: SEALED },
        { name: 'quay' },
        { name: 'generic', secret: SEALED },
      ],
      poll: 300,
    };
    assert.deepEqual(parseManifestPayload(withPolicy(policy)).auto_deploy, policy);
  });

  it('accepts poll alone or sources alone', () => {
    assert.deepEqual(parseManifestPayload(withPolicy({ tag: 'main', poll: 60 })).auto_deploy, { tag: 'main', poll: 60 });
    assert.deepEqual(parseManifestPayload(withPolicy({ tag: 'v*', sources: [{ name: 'quay' }] })).auto_deploy, { tag: 'v*', sources: [{ name: 'quay' }] });
  });

  it('refuses a policy that nothing could trigger', () => {
    refused({ tag: 'main' }, /auto_deploy: needs sources, poll or both/);
    refused({ tag: 'main', sources: [] }, /auto_deploy\.sources: must have at least 1 items/);
  });

  it('refuses an unknown source, a source listed twice and unknown fields', () => {
    refused({ tag: 'main', sources: [{ name: 'gitlab' }] }, /auto_deploy\.sources\[0\]\.name: .*"distribution"/);
    refused({ tag: 'main', sources: [{ name: 'quay' }, { name: 'quay' }] }, /auto_deploy\.sources\[1\]\.name: quay is listed twice/);
    refused({ tag: 'main', poll: 60, repository: 'evil/repo' }, /auto_deploy\.repository: unknown field/);
    refused({ tag: 'main', sources: [{ name: 'quay', token: 'x' }] }, /auto_deploy\.sources\[0\]\.token: unknown field/);
  });

  it('requires a secret for distribution, github, harbor and generic, and refuses one for dockerhub and quay', () => {
    for (const name of ['distribution', 'github', 'harbor', 'generic']) {
      refused({ tag: 'main', sources: [{ name }] }, new RegExp(`auto_deploy\\.sources\\[0\\]\\.secret: required: ${name}`));
    }
    for (const name of ['dockerhub', 'quay']) {
      refused({ tag: 'main', sources: [{ name, secret: SEALED }] }, new RegExp(`auto_deploy\\.sources\\[0\\]\\.secret: not allowed: ${name} signs nothing`));
    }
    refused({ tag: 'main', sources: [{ name: 'github', secret: 'plaintext-key' }] }, /auto_deploy\.sources\[0\]\.secret: must be a sealed value/);
  });

  it('bounds poll to 60 s .. 1 day, whole seconds', () => {
    refused({ tag: 'main', poll: 59 }, /auto_deploy\.poll: must be >= 60/);
    refused({ tag: 'main', poll: 86401 }, /auto_deploy\.poll: must be <= 86400/);
    refused({ tag: 'main', poll: 90.5 }, /auto_deploy\.poll: /);
    assert.equal(parseManifestPayload(withPolicy({ tag: 'main', poll: 86400 })).auto_deploy?.poll, 86400);
  });

  it('refuses a bad or oversized tag pattern, naming it', () => {
    refused({ tag: '>=banana', poll: 60 }, /auto_deploy\.tag: tag pattern ">=banana" is not a valid semver range/);
    refused({ tag: 'a'.repeat(129), poll: 60 }, /auto_deploy\.tag: tag pattern "a+" is longer than 128 characters/);
    refused({ poll: 60 }, /auto_deploy\.tag: required/);
  });

  it('refuses an oversized secret', () => {
    const huge = `${'e'.repeat(40)}..${'i'.repeat(16)}.${'c'.repeat(90001)}.${'t'.repeat(22)}`;
    refused({ tag: 'main', sources: [{ name: 'generic', secret: huge }] }, /auto_deploy\.sources\[0\]\.secret: must be a sealed value/);
  });
});
