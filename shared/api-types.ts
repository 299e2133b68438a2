// Records exchanged over the agent API and between agent modules. Types only,
// plus the few constants that enumerate their allowed values.

/** A JSON Web Key as stored and exchanged; only OKP keys (Ed25519, X25519) are used. */
export interface JWK {
  kty?: string;
  crv?: string;
  x?: string;
  d?: string;
  kid?: string;
  [member: string]: unknown;
}

export const DEPLOY_STATES = [
  'RECEIVED',
  'VERIFIED',
  'PULLED',
  'STARTED',
  'HEALTHY',
  'SWITCHED',
  'DRAINED',
  'DONE',
  'FAILED',
  'REVERTED',
] as const;
export type DeployState = (typeof DEPLOY_STATES)[number];

export const FINAL_DEPLOY_STATES: readonly DeployState[] = ['DONE', 'REVERTED'];

export function isFinalDeployState(state: DeployState): boolean {
  return FINAL_DEPLOY_STATES.includes(state);
}

export interface DeployRecord {
  id: number;
  service: string;
  destination: string;
  version: string;
  seq: number;
  image: string;
  state: DeployState;
  error: string | null;
  key_id: string;
  created_at: string; // ISO 8601
  updated_at: string; // ISO 8601
}

export interface DeployEvent {
  id: number;
  deploy_id: number;
  at: string; // ISO 8601
  state: DeployState;
  message: string;
  progress?: number;
}

export interface CurrentRelease {
  version: string;
  image: string;
  seq: number;
  deploy_id: number;
}

export interface ServiceSummary {
  name: string;
  destination: string;
  seq: number;
  current: CurrentRelease | null;
}

export interface ServiceContainer {
  id: string;
  name: string;
  role: string;
  release: string;
  state: string;
  status: string;
}

export interface ServiceDetail {
  name: string;
  destination: string;
  seq: number;
  current: CurrentRelease | null;
  containers: ServiceContainer[];
  routes: Array<{ host: string; target: string }>;
}

export interface Route {
  service: string;
  hosts: string[];
  target: string; // 'IP:PORT'
  path_prefix?: string;
  response_timeout?: number;
}

export interface RouteSet {
  version: number;
  routes: Route[];
}

// Ordered weakest first: each scope implies every scope before it.
export const SCOPES = ['read', 'deploy', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export function hasScope(granted: readonly Scope[], needed: Scope): boolean {
  const rank = SCOPES.indexOf(needed);
  return granted.some((s) => SCOPES.indexOf(s) >= rank);
}

export interface TrustedKey {
  kid: string;
  jwk: JWK;
  comment: string;
  scopes: Scope[];
  added_at: string; // ISO 8601
}

/** Claims of the self-signed identity document served by GET /v1/identity. */
export interface IdentityClaims {
  agent_id: string;
  identity_jwk: JWK;
  sealing_jwk: JWK;
  tls_fingerprint: string; // SHA-256 of the certificate DER, lowercase hex, no colons
  version: string;
  features: string[];
  iat: number;
}
