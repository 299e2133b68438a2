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

/**
 * Where a deploy may go from each state; the store refuses anything else. The
 * engine walks RECEIVED → … → DONE. Before SWITCHED a failure goes to FAILED
 * and the undo to REVERTED; an agent that restarts abandons such a deploy
 * straight to REVERTED, or records SWITCHED when the router already serves its
 * container (a crash after the switch, before it was recorded). Past SWITCHED
 * the release serves and only finishing remains (DONE directly when the drain
 * cannot be finished).
 */
export const DEPLOY_TRANSITIONS: Readonly<Record<DeployState, readonly DeployState[]>> = {
  RECEIVED: ['VERIFIED', 'SWITCHED', 'FAILED', 'REVERTED'],
  VERIFIED: ['PULLED', 'SWITCHED', 'FAILED', 'REVERTED'],
  PULLED: ['STARTED', 'SWITCHED', 'FAILED', 'REVERTED'],
  STARTED: ['HEALTHY', 'SWITCHED', 'FAILED', 'REVERTED'],
  HEALTHY: ['SWITCHED', 'FAILED', 'REVERTED'],
  SWITCHED: ['DRAINED', 'DONE'],
  DRAINED: ['DONE'],
  DONE: [],
  FAILED: ['REVERTED'],
  REVERTED: [],
};

/** The states a deploy never leaves: those with no transition out. */
export const FINAL_DEPLOY_STATES: readonly DeployState[] = DEPLOY_STATES.filter((s) => DEPLOY_TRANSITIONS[s].length === 0);

export function isFinalDeployState(state: DeployState): boolean {
  return FINAL_DEPLOY_STATES.includes(state);
}

/** Staying in a state is always allowed (repeating a step is harmless); moving only along DEPLOY_TRANSITIONS. */
export function canMoveDeploy(from: DeployState, to: DeployState): boolean {
  return from === to || DEPLOY_TRANSITIONS[from].includes(to);
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
  /** What started it: an operator's push or rollback, or the agent itself. */
  trigger: DeployTrigger;
  /** For agent-made deploys (bake-revert): the deploy whose failure caused it. */
  derived_from: number | null;
}

export const DEPLOY_TRIGGERS = ['push', 'rollback', 'bake-revert', 'webhook'] as const;
export type DeployTrigger = (typeof DEPLOY_TRIGGERS)[number];

/** Key id recorded for actions the agent takes by itself, and for `berth-agent trust` run on the server. */
export const AGENT_ACTOR = 'agent';
export const LOCAL_ACTOR = 'local';

/**
 * One audit row. `action` is a stable dotted name (docs/internals.md "Audit"):
 * release.accepted, deploy.<STATE>, bake.failed, lock.acquired, lock.released,
 * maintenance.on, maintenance.off, proxy.pause, proxy.resume, exec, trust.added, trust.updated,
 * trust.removed, service.removed, service.remove_failed, webhook.deploy.
 */
export interface AuditEntry {
  id: number;
  at: string; // ISO 8601
  key_id: string;
  action: string;
  service: string;
  destination: string;
  detail: Record<string, unknown>;
}

/** A manual lock taken with `deploy lock acquire`; deploys are refused while it is held. */
export interface OperatorLock {
  service: string;
  destination: string;
  key_id: string;
  /** The holder key's comment (user@host), when the key is still trusted. */
  key_comment?: string;
  message: string;
  since: string; // ISO 8601
}

export interface MaintenanceState {
  service: string;
  destination: string;
  key_id: string;
  message: string;
  since: string; // ISO 8601
}

/** A paused service: the router holds its new requests up to `timeout` seconds each (`deploy proxy pause`). */
export interface PauseState {
  service: string;
  destination: string;
  key_id: string;
  /** Seconds a held request waits before it gets 504. */
  timeout: number;
  since: string; // ISO 8601
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

/** What became of a webhook delivery (agent/webhooks/types.ts DeliveryOutcome). */
export const WEBHOOK_DELIVERY_OUTCOMES = ['queued', 'deployed', 'already_serving', 'ignored', 'refused', 'failed'] as const;
export type WebhookDeliveryOutcome = (typeof WEBHOOK_DELIVERY_OUTCOMES)[number];

/** One webhook delivery as `GET /v1/services/:name/webhook/deliveries` lists it; the last 200 are kept. */
export interface WebhookDelivery {
  id: string; // whd_…
  at: string; // ISO 8601, when it arrived
  service: string;
  destination: string;
  source: string;
  /** The sender's own delivery or event id, when it gives one. */
  sender_delivery_id: string | null;
  outcome: WebhookDeliveryOutcome;
  reason: string;
  tag: string | null;
  /** The digest the registry gave for the tag (never one from the payload). */
  digest: string | null;
  deploy_id: number | null;
}

/** One version of a service as `GET /v1/services/:name/releases` lists it: its latest release row and latest deploy. */
export interface ReleaseSummary {
  version: string;
  image: string;
  seq: number;
  key_id: string;
  created_at: string; // ISO 8601, of the latest release row of this version
  trigger: DeployTrigger;
  /** The state of the latest deploy of this version. */
  last_state: DeployState;
  error: string | null;
  /** Its latest deploy went live and then failed its bake window (absent from older agents). */
  bake_failed?: boolean;
  /** Whether a container of this version exists on the server, and runs. */
  container: 'running' | 'stopped' | null;
  current: boolean;
}

/** A stored release as `GET /v1/services/:name/releases/:version` returns it; sealed values stay sealed. */
export interface StoredRelease {
  version: string;
  seq: number;
  image: string;
  key_id: string;
  created_at: string; // ISO 8601
  payload: unknown;
}

// ServiceDetail, the answer of GET /v1/services/:name, is a schema: shared/service-detail.ts.

/** What `DELETE /v1/services/:name` took away on one server. */
export interface ServiceRemoval {
  containers: string[];
  routes: number;
}

// The JSON bodies the agent answers, one schema per endpoint: shared/api-responses.ts.

export type { Route, RouteSet } from './routes.js';

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

/** Why a cron run started: its schedule, a slot missed while the agent was down, an operator, or a failed run's retry. */
export const CRON_TRIGGERS = ['schedule', 'catch-up', 'manual', 'retry'] as const;
export type CronTrigger = (typeof CRON_TRIGGERS)[number];
/**
 * What became of a run. `skipped`: not started (concurrency forbid, the
 * agent's cap on running jobs); `replaced`: stopped for a newer run
 * (concurrency replace); `stopped`: its service was removed or the job paused
 * mid-run; `interrupted`: the agent stopped during it. Failures (loud): failed,
 * timed_out, start_failed, interrupted.
 */
export const CRON_OUTCOMES = ['running', 'succeeded', 'failed', 'timed_out', 'start_failed', 'skipped', 'replaced', 'stopped', 'interrupted'] as const;
export type CronOutcome = (typeof CRON_OUTCOMES)[number];
export const FAILED_CRON_OUTCOMES: ReadonlySet<CronOutcome> = new Set<CronOutcome>(['failed', 'timed_out', 'start_failed', 'interrupted']);

/** One run of a cron job as `GET /v1/services/:name/cron/:job/runs` lists it; the last 200 per job are kept. */
export interface CronRun {
  id: number;
  service: string;
  destination: string;
  job: string;
  trigger: CronTrigger;
  /** 1 for the first attempt, 2.. for retries. */
  attempt: number;
  /** ISO 8601: the slot it ran for (null for manual runs). */
  scheduled_at: string | null;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  outcome: CronOutcome;
  exit_code: number | null;
  reason: string;
  /** The release (version) whose image and environment it ran with. */
  release: string;
  image: string;
  /** The last 64 KiB of stdout and stderr, the role's secret values replaced by [secret NAME]. */
  output: string;
  output_truncated: boolean;
  /** The notify hook for a failed run: null (none configured or not needed), `sent`, or `failed: …`. */
  notify: string | null;
}

/** A run without its output, as a job's status shows its last one. */
export type CronRunSummary = Omit<CronRun, 'output'>;

/** One job of the current release as `GET /v1/services/:name/cron` shows it on this agent. */
export interface CronJobStatus {
  name: string;
  schedule: string;
  timezone: string;
  command: string[];
  role: string;
  concurrency: 'forbid' | 'allow' | 'replace';
  timeout: number;
  retries: number;
  hosts: 'one' | 'all';
  /** Paused by itself or with the whole service. */
  paused: boolean;
  /** ISO 8601; null while paused. */
  next_run: string | null;
  /** Runs of it under way now. */
  running: number;
  last_run: CronRunSummary | null;
  last_success_at: string | null;
  /** No successful run within twice its interval (since it was scheduled, if it never succeeded). */
  overdue: boolean;
}

/** One accessory of the current release as `GET /v1/services/:name/accessories` shows it on this agent. */
export interface AccessoryStatus {
  name: string;
  /** The image the current release names (repo@sha256:…). */
  image: string;
  /** Its container on this agent, or null when none exists (not booted, or removed). */
  container: string | null;
  /** Docker's state word (running, exited, created …), or `missing`. */
  state: string;
  /** The host binding, as the release asks for it, or null. */
  port: string | null;
  /** The name the app reaches it by on the agent's network: `<service>-<name>`. */
  host: string;
  /** What differs between the running container and the current release (empty when nothing does); `deploy accessory reboot` applies it. */
  changes: string[];
  /** Host directories it mounts (the ones the agent keeps for it, and absolute ones). */
  directories: string[];
}

export const BACKUP_TRIGGERS = ['schedule', 'catch-up', 'manual', 'before_deploy'] as const;
export type BackupTrigger = (typeof BACKUP_TRIGGERS)[number];
/** running: under way; ok: stored, checksum read back (and verify passed when configured); failed: not a backup; interrupted: the agent stopped mid-run. */
export const BACKUP_OUTCOMES = ['running', 'ok', 'failed', 'interrupted'] as const;
export type BackupOutcome = (typeof BACKUP_OUTCOMES)[number];
/** null: no verify configured; passed/failed: the verify command's result. */
export const BACKUP_VERIFY_RESULTS = ['passed', 'failed'] as const;
export type BackupVerifyResult = (typeof BACKUP_VERIFY_RESULTS)[number];

/** One backup run on one agent, as `deploy backup list` shows it. */
export interface BackupRecord {
  id: number;
  service: string;
  destination: string;
  /** The backup's name in deploy.yml. */
  backup: string;
  kind: 'accessory' | 'volume' | 'directory';
  trigger: BackupTrigger;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
  outcome: BackupOutcome;
  /** Why it failed (or was interrupted); '' when ok. Never holds secret values. */
  reason: string;
  /** Bytes of the stored file (compressed, encrypted when so), null when nothing was stored. */
  size: number | null;
  /** Bytes the dump or tar archive had before compression. */
  raw_size: number | null;
  /** Hex SHA-256 of the stored file, as read back after it was written. */
  sha256: string | null;
  /** Hex SHA-256 of the compressed plaintext (equals sha256 unless encrypted): what an encrypted restore's upload must match. */
  plain_sha256: string | null;
  compression: 'zstd' | 'gzip';
  /** The age recipient it is encrypted to, null when not encrypted. */
  recipient: string | null;
  /** The release (version) live when it was taken, null before the service's first release. */
  release: string | null;
  /** before_deploy: the release whose switch it preceded. */
  for_release: string | null;
  /** The accessory image it was dumped from (kind accessory), else null. */
  image: string | null;
  verify: BackupVerifyResult | null;
  /** The verify command's last output lines (secret values replaced), '' when none. */
  verify_output: string;
  /** The notify hook for a failed run: null (none configured or not needed), `sent`, or `failed: …`. */
  notify: string | null;
  /** Whether its file is still on disk (retention deletes files; failed runs never have one). */
  stored: boolean;
}

/** One backup of the current release as `GET /v1/services/:name/backups` shows it on this agent. */
export interface BackupStatus {
  name: string;
  kind: 'accessory' | 'volume' | 'directory';
  /** The accessory, volume or directory it backs up, as deploy.yml names it. */
  source: string;
  schedule: string | null;
  timezone: string;
  /** ISO 8601; null without a schedule. */
  next_run: string | null;
  keep: number;
  max_age: number | null;
  compression: 'zstd' | 'gzip';
  encrypted: boolean;
  verify: boolean;
  before_deploy: boolean;
  /** The directory its files are stored in on this host. */
  path: string;
  running: boolean;
  last: BackupRecord | null;
  /** The newest ok backup's id, null when none. */
  newest_good: number | null;
}
