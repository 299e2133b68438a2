import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { previousRelease, rollbackPayload, type RollbackFacts } from '../../../cli/rollback-release.js';
import type { DeployState } from '../../../shared/api-types.js';
import { parseManifestPayload } from '../../../shared/manifest.js';

const KID = 'k'.repeat(43);
const AGENT = 'a'.repeat(43);
const OTHER_KEY = 'o'.repeat(43);

const r = (version: string, last_state: DeployState, current = false) => ({ version, last_state, current });

describe('previous release', () => {
  it('is the newest release older than the current one that went live', () => {
    assert.equal(previousRelease([r('v3', 'DONE', true), r('v2', 'DONE'), r('v1', 'DONE')]), 'v2');
    assert.equal(previousRelease([r('v4', 'REVERTED'), r('v3', 'DONE', true), r('v2', 'REVERTED'), r('v1', 'DONE')]), 'v1', 'failed ones and newer ones are passed over');
    assert.equal(previousRelease([r('v1', 'DONE', true)]), undefined);
    assert.equal(previousRelease([r('v2', 'DONE'), r('v1', 'DONE')]), 'v2', 'nothing current: the newest that went live');
    assert.equal(previousRelease([]), undefined);
  });

  it('passes over a release that failed its bake window', () => {
    assert.equal(previousRelease([r('v3', 'DONE', true), { ...r('v2', 'DONE'), bake_failed: true }, r('v1', 'DONE')]), 'v1');
    assert.equal(previousRelease([r('v1', 'DONE', true), { ...r('v2', 'DONE'), bake_failed: true }]), undefined);
    assert.equal(previousRelease([r('v3', 'DONE', true), { ...r('v2', 'DONE'), bake_failed: false }]), 'v2');
  });
});

const stored = {
  apiVersion: 'berth/v1', iss: OTHER_KEY, aud: AGENT, sub: 'demo', iat: 1000, exp: 1600, jti: 'j'.repeat(22), seq: 5,
  service: 'demo', destination: '', version: 'v1', image: `reg/demo@sha256:${'a'.repeat(64)}`,
  roles: { web: { env: { clear: { A: '1' }, secret: { S: 'sealed..iv.ct.tag' } } } },
  deploy_timeout: 30, drain_timeout: 30, readiness_delay: 7, stop_timeout: 10, retain_containers: 5, trigger: 'push',
};
const facts: RollbackFacts = { host: 'h:7443', kid: KID, agentId: AGENT, service: 'demo', destination: '', version: 'v1', seq: 99, nowSeconds: 5000, markTrigger: true };

describe('rollback payload', () => {
  it('keeps roles, image and sealed values; new seq, iat, exp, jti and issuer; marks the trigger when the agent knows it', () => {
    const p = parseManifestPayload(rollbackPayload(stored, facts));
    assert.deepEqual(p.roles, parseManifestPayload(stored).roles);
    assert.equal(p.image, stored.image);
    assert.deepEqual([p.seq, p.iat, p.exp, p.iss, p.aud, p.trigger], [99, 5000, 5600, KID, AGENT, 'rollback']);
    assert.notEqual(p.jti, stored.jti);
    assert.equal(rollbackPayload(stored, { ...facts, markTrigger: false }).trigger, undefined, 'an older agent gets no trigger field');
  });

  it('refuses a stored payload for another agent, service or version, or one that does not validate', () => {
    assert.throws(() => rollbackPayload({ ...stored, aud: 'b'.repeat(43) }, facts), /h:7443 sent a stored release for v1 that is addressed to agent b+/);
    assert.throws(() => rollbackPayload({ ...stored, service: 'other', sub: 'other' }, facts), /belongs to other/);
    assert.throws(() => rollbackPayload({ ...stored, version: 'v2' }, facts), /is version v2/);
    assert.throws(() => rollbackPayload({ ...stored, image: 'reg/demo:latest' }, facts), /h:7443 sent a stored release v1 that does not validate: .*pinned by digest/);
    assert.throws(() => rollbackPayload('nonsense', facts), /does not validate/);
  });
});
