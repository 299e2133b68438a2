// deploy.yml + a resolved image + one agent → the release manifest payload for that agent.

import { randomBytes } from 'node:crypto';
import type { ManifestInput } from '../shared/manifest.js';
import { manifestSubject } from '../shared/manifest.js';
import type { DeployConfig } from './config/schema.js';

// Accepting a release is immediate; ten minutes covers clock skew and slow fan-out.
export const MANIFEST_TTL_S = 600;

export interface ManifestFacts {
  kid: string;
  agentId: string;
  version: string;
  /** repo@sha256:… */
  image: string;
  seq: number;
  nowSeconds: number;
  jti?: string;
}

export function nextSeq(currentSeq: number, nowMs: number): number {
  return Math.max(nowMs, currentSeq + 1);
}

export function buildManifestPayload(config: DeployConfig, facts: ManifestFacts): ManifestInput {
  const destination = '';
  return {
    apiVersion: 'berth/v1',
    iss: facts.kid,
    aud: facts.agentId,
    sub: manifestSubject(config.service, destination),
    iat: facts.nowSeconds,
    exp: facts.nowSeconds + MANIFEST_TTL_S,
    jti: facts.jti ?? randomBytes(16).toString('base64url'),
    seq: facts.seq,
    service: config.service,
    destination,
    version: facts.version,
    image: facts.image,
    roles: {
      web: {
        env: { clear: { ...config.env.clear }, secret: {} },
        proxy: {
          hosts: [...config.proxy.hosts],
          app_port: config.proxy.app_port,
          healthcheck: { ...config.proxy.healthcheck },
          ...(config.proxy.response_timeout !== undefined ? { response_timeout: config.proxy.response_timeout } : {}),
        },
      },
    },
    deploy_timeout: config.deploy_timeout,
    drain_timeout: config.drain_timeout,
    readiness_delay: config.readiness_delay,
    stop_timeout: config.stop_timeout,
    retain_containers: config.retain_containers,
  };
}
