// deploy.yml + a resolved image + one agent → the release manifest payload for that agent.

import { randomBytes } from 'node:crypto';
import type { ManifestInput } from '../shared/manifest.js';
import { manifestSubject } from '../shared/manifest.js';
import { ConfigError } from '../shared/errors.js';
import { mergeEnv } from './config/schema-env.js';
import type { DeployConfig, RoleConfig } from './config/schema.js';

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

/** The role the skeleton deploys: the primary one (other roles and secrets come with issue 3's second half). */
export function deployedRole(config: DeployConfig): RoleConfig {
  const role = config.roles.find((r) => r.primary);
  if (!role) throw new ConfigError(`servers: has no ${config.primary_role} role (the primary_role)`);
  return role;
}

function manifestProxy(role: RoleConfig): NonNullable<ManifestInput['roles'][string]['proxy']> | undefined {
  const proxy = role.proxy;
  if (!proxy) return undefined;
  if (proxy.hosts.length === 0) {
    throw new ConfigError(`proxy/host: is required: Berth's router routes by host name, so the ${role.name} role needs proxy/host or proxy/hosts`, 'set proxy: { host: app.example.com }');
  }
  return {
    hosts: [...proxy.hosts],
    app_port: proxy.app_port,
    healthcheck: { ...proxy.healthcheck },
    // Kamal's default (30 s) is also the router's, so it is only sent when changed.
    ...(proxy.response_timeout !== 30 ? { response_timeout: proxy.response_timeout } : {}),
  };
}

/** Throws the ConfigError a push would meet, before any server is contacted. */
export function checkDeployable(config: DeployConfig): void {
  manifestProxy(deployedRole(config));
}

export function buildManifestPayload(config: DeployConfig, facts: ManifestFacts): ManifestInput {
  const destination = '';
  const role = deployedRole(config);
  const env = mergeEnv(config.env, role.env);
  const proxy = manifestProxy(role);
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
      [role.name]: {
        ...(role.cmd ? { cmd: [...role.cmd] } : {}),
        env: { clear: { ...env.clear }, secret: {} },
        ...(proxy ? { proxy } : {}),
      },
    },
    deploy_timeout: config.deploy_timeout,
    drain_timeout: config.drain_timeout,
    readiness_delay: config.readiness_delay,
    stop_timeout: config.stop_timeout,
    retain_containers: config.retain_containers,
  };
}
