// PURE: what a rollback sends. The target version (the release before the
// current one that went live), and a new manifest made from that version's
// stored payload: same roles, image and sealed values (they are sealed to the
// agent that stored them), with a new seq, fresh iat/exp/jti and the rolling
// back operator as issuer.

import { randomBytes } from 'node:crypto';
import type { ReleaseSummary } from '../shared/api-types.js';
import { UpstreamError } from '../shared/errors.js';
import { parseManifestPayload, type ManifestInput } from '../shared/manifest.js';
import { MANIFEST_TTL_S } from './manifest-builder.js';

/**
 * `releases` newest first, as GET /v1/services/:name/releases lists them (by
 * when each last went live): the most recent one older than the current
 * release whose last deploy reached DONE and did not then fail its bake window.
 */
export function previousRelease(releases: readonly Pick<ReleaseSummary, 'version' | 'current' | 'last_state' | 'bake_failed'>[]): string | undefined {
  const current = releases.findIndex((r) => r.current);
  return releases.slice(current + 1).find((r) => r.last_state === 'DONE' && !r.current && r.bake_failed !== true)?.version;
}

export interface RollbackFacts {
  host: string;
  kid: string;
  agentId: string;
  service: string;
  destination: string;
  version: string;
  seq: number;
  nowSeconds: number;
  /** The agent lists rollback.v1: the manifest says why it was signed. */
  markTrigger: boolean;
  jti?: string;
}

/** Throws UpstreamError naming the host when the stored payload is not the release asked for. */
export function rollbackPayload(stored: unknown, f: RollbackFacts): ManifestInput {
  let p;
  try {
    p = parseManifestPayload(stored);
  } catch (err) {
    throw new UpstreamError(`${f.host} sent a stored release ${f.version} that does not validate: ${err instanceof Error ? err.message : String(err)}`);
  }
  const mismatch =
    p.aud !== f.agentId ? `is addressed to agent ${p.aud}, not ${f.agentId}`
    : p.service !== f.service || p.destination !== f.destination ? `belongs to ${p.sub}`
    : p.version !== f.version ? `is version ${p.version}`
    : undefined;
  if (mismatch) throw new UpstreamError(`${f.host} sent a stored release for ${f.version} that ${mismatch}`);
  const { trigger: _previous, ...rest } = p;
  return {
    ...rest,
    iss: f.kid,
    iat: f.nowSeconds,
    exp: f.nowSeconds + MANIFEST_TTL_S,
    jti: f.jti ?? randomBytes(16).toString('base64url'),
    seq: f.seq,
    ...(f.markTrigger ? { trigger: 'rollback' as const } : {}),
  };
}
