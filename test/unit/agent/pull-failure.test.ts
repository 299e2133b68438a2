// What a failed pull tells the user: a refused login names the registry and
// the user, never the password, whatever Docker's message held.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePullFailure } from '../../../agent/docker-pull.js';
import { UpstreamError } from '../../../shared/errors.js';

const REF = `127.0.0.1:5001/team/web@sha256:${'a'.repeat(64)}`;
const WHO = { server: '127.0.0.1:5001', username: 'deployer' };

function failure(message: string): UpstreamError {
  return new UpstreamError(`docker pull ${REF} failed: ${message}`);
}

describe('pull failures', () => {
  it('a refused login names the registry and the user', () => {
    for (const docker of [
      '(HTTP code 500) server error - unauthorized: authentication required',
      'Head "http://127.0.0.1:5001/v2/team/web/manifests/sha256:aa": unauthorized: incorrect username or password',
      'denied: requested access to the resource is denied',
      'pull access denied for team/web, repository does not exist or may require \'docker login\'',
    ]) {
      const e = describePullFailure(failure(docker), REF, WHO) as UpstreamError;
      assert.equal(e.code, 'registry_auth_failed', docker);
      assert.ok(e.message.startsWith(`registry 127.0.0.1:5001 rejected the credentials of user deployer (pulling ${REF}): `), e.message);
      assert.ok(!e.message.includes('(HTTP code'), e.message);
    }
  });

  it('without a login, says credentials are required', () => {
    const e = describePullFailure(failure('no basic auth credentials'), REF, undefined) as UpstreamError;
    assert.equal(e.code, 'registry_auth_failed');
    assert.match(e.message, /^registry 127\.0\.0\.1:5001 requires credentials to pull /);
    const hub = describePullFailure(failure('unauthorized'), `acme/web@sha256:${'a'.repeat(64)}`, undefined);
    assert.match(hub.message, /^registry docker\.io requires credentials/);
  });

  it('other failures pass through unchanged (the control)', () => {
    const original = failure('manifest unknown: manifest unknown');
    assert.equal(describePullFailure(original, REF, WHO), original);
    const plain = describePullFailure(new Error('socket hang up'), REF, WHO);
    assert.ok(plain instanceof UpstreamError);
    assert.equal(plain.message, 'socket hang up');
  });

  it('scrubs the given secrets from any message, longest first', () => {
    const e = describePullFailure(failure('weird echo of s3cret and s3cret-longer, unauthorized'), REF, WHO, ['s3cret', 's3cret-longer']);
    assert.ok(!e.message.includes('s3cret'), e.message);
    assert.match(e.message, /echo of \[redacted\] and \[redacted\], unauthorized/);
    const other = describePullFailure(failure('layer s3cret broke'), REF, WHO, ['s3cret']) as UpstreamError;
    assert.equal(other.message, `docker pull ${REF} failed: layer [redacted] broke`);
    assert.equal(other.code, 'upstream_failed');
  });
});
