// The Store contract (docs/internals.md "agent/store/"). Row shapes are the API
// records of shared/api-types.ts.
import type { EventEmitter } from 'node:events';
import type {
  CurrentRelease, DeployEvent, DeployRecord, DeployState, JWK, Route, Scope, ServiceSummary, TrustedKey,
} from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { AppStoppedRole } from '../../shared/app-state.js';
import type { AuditEntry, OperatorLock } from '../../shared/api-types.js';
import type { AuditInput, AuditQuery } from './audit-repo.js';
import type { BackupsRepo } from './backups-repo.js';
import type { CertificatesRepo } from './certificates-repo.js';
import type { CronRepo } from './cron-repo.js';
import type { MaintenanceOff, MaintenanceOn } from './maintenance-repo.js';
import type { PauseOff, PauseOn } from './pause-repo.js';
import type { MaintenanceState, PauseState } from '../../shared/api-types.js';
import type { ReleaseHistoryEntry, StoredReleasePayload } from './release-history-repo.js';
import type { DeliveryUpdate, NewDelivery } from './webhook-deliveries-repo.js';
import type { WebhookDelivery } from '../../shared/api-types.js';

export type { AuditInput, AuditQuery } from './audit-repo.js';

/** `deploy app stop`: the roles with their router entries (null: a role without proxy), for the release live now. */
export interface AppStopInput {
  service: string;
  destination: string;
  keyId: string;
  /** The release live now: the change is refused if another went live meanwhile. */
  deployId: number;
  version: string;
  roles: ReadonlyArray<{ role: string; route: string | null }>;
}

export interface AppStartInput {
  service: string;
  destination: string;
  keyId: string;
  deployId: number;
  version: string;
  roles: readonly string[];
}
export type { CertificateRecord } from './certificates-repo.js';
export type { MaintenanceOff, MaintenanceOn } from './maintenance-repo.js';
export type { PauseOff, PauseOn } from './pause-repo.js';
export type { ReleaseHistoryEntry, StoredReleasePayload } from './release-history-repo.js';
export type { DeliveryUpdate, NewDelivery } from './webhook-deliveries-repo.js';
export type {
  AuditEntry, OperatorLock, CurrentRelease, DeployEvent, DeployRecord, DeployState, JWK, Route, Scope, ServiceSummary, TrustedKey,
} from '../../shared/api-types.js';
export { DEPLOY_STATES, SCOPES } from '../../shared/api-types.js';

// The bake-window revert (derived-repo.ts); here so the repositories depend on
// the contract and not the other way round.
export interface BakeFailureInput {
  /** The deploy whose bake window failed. */
  bakedDeployId: number;
  /** The deploy that was current before the baked one (its release is the revert target); null when none. */
  revertToDeployId: number | null;
  /** Which check failed and how, for the audit row and events. */
  reason: string;
}

export type BakeFailureOutcome =
  /** A new deploy (RECEIVED, lock held) for the engine to run. */
  | { kind: 'reverting'; deploy: DeployRecord }
  /** bake.failed is recorded; nothing else changed. */
  | { kind: 'nothing-to-revert'; why: string }
  /** The bake no longer applies (another deploy is current or holds the lock, or it failed already): nothing recorded. */
  | { kind: 'over'; why: string };

// A webhook's derived release (webhook-release-repo.ts); here for the same reason.
export interface WebhookReleaseInput {
  /** The deploy serving when the tag was resolved; its release is the base. */
  baseDeployId: number;
  /** The base payload with image and version changed (the caller builds it). */
  payload: ManifestPayload;
  /** `webhook:<source>`: the key id the deploy and its audit rows are attributed to. */
  keyId: string;
  source: string;
  deliveryId: string;
  tag: string;
  digest: string;
}

export type WebhookReleaseOutcome =
  /** A new deploy (RECEIVED, deploy lock held) for the engine to run. */
  | { kind: 'deploying'; deploy: DeployRecord }
  /** A deploy holds the lock: wait for it to end and look again. */
  | { kind: 'busy'; deployId: number }
  /** Another release is current now: look again. */
  | { kind: 'moved'; why: string }
  /** A person's lock (`deploy lock`) or a removal holds the service. */
  | { kind: 'locked'; why: string }
  /** The version exists with another image. */
  | { kind: 'conflict'; why: string };

/** A route table row as stored: key `service` or `service.role`, the Route as JSON. */
export type RemovedRouteRow = {
  service: string;
  destination: string;
  route: string;
};

export interface AcceptReleaseInput {
  payload: ManifestPayload;
  jws: string;
  keyId: string;
  /**
   * Extension to the contract: the request token's jti, committed in the same
   * transaction so a refused release leaves the store untouched.
   */
  requestJti?: { jti: string; exp: number };
}

export interface Store {
  close(): void;
  /** Every table's rows; tests compare before/after a refused request. */
  dump(): Record<string, unknown[]>;
  keys: {
    list(): TrustedKey[];
    get(kid: string): TrustedKey | undefined;
    add(k: { kid: string; jwk: JWK; comment: string; scopes: Scope[] }): 'added' | 'updated' | 'unchanged';
    remove(kid: string): boolean;
  };
  /** Throws ConflictError 'replayed' if seen; prunes long-expired rows. */
  useJti(jti: string, exp: number): void;
  acceptRelease(a: AcceptReleaseInput): DeployRecord;
  getDeploy(id: number): DeployRecord | undefined;
  getRelease(deployId: number): { payload: ManifestPayload; jws: string } | undefined;
  events(deployId: number, afterId?: number): DeployEvent[];
  /** Also emits 'event' on the bus. */
  addEvent(deployId: number, state: DeployState, message: string, progress?: number): DeployEvent;
  /** Emits 'final' and frees the lock for DONE/REVERTED. */
  setState(deployId: number, state: DeployState, error?: string): DeployRecord;
  unfinishedDeploys(): DeployRecord[];
  /** The newest deploy of the service, whatever its state; undefined when it has none. */
  latestDeploy(service: string, destination: string): DeployRecord | undefined;
  seq(service: string, destination: string): number;
  current(service: string, destination: string): CurrentRelease | null;
  setCurrent(service: string, destination: string, deployId: number): void;
  services(): ServiceSummary[];
  /** One entry per version, newest first (agent/store/release-history-repo.ts). */
  releaseHistory(service: string, destination: string, limit?: number): ReleaseHistoryEntry[];
  /** One version's stored payload (sealed values stay sealed), or undefined. */
  storedRelease(service: string, destination: string, version: string): StoredReleasePayload | undefined;
  /** Stored payloads of the service and destination that contain `text` verbatim (at most 100). */
  payloadsContaining(service: string, destination: string, text: string): ManifestPayload[];
  routes: {
    all(): Route[];
    set(service: string, destination: string, route: Route | null): number;
    version(): number;
    raiseVersion(min: number): number;
  };
  /** Append-only log of actions with the key that took them (docs/internals.md "Audit"). */
  audit: {
    record(e: AuditInput): AuditEntry;
    list(q: AuditQuery): AuditEntry[];
  };
  /** Maintenance mode per service and destination; set and clear record `maintenance.on|off` audit rows. */
  maintenance: {
    get(service: string, destination: string): MaintenanceState | null;
    all(): MaintenanceState[];
    set(on: MaintenanceOn): { state: MaintenanceState; changed: boolean };
    clear(off: MaintenanceOff): MaintenanceState | null;
  };
  /** Roles stopped by `deploy app stop` (agent/store/app-state-repo.ts); stop and start record `app.stop|start`. */
  appState: {
    get(service: string, destination: string): AppStoppedRole[];
    /** Router entries left out of the table sent to the router. */
    hiddenRoutes(): string[];
    /** ConflictError `locked` while a deploy, an operator lock or a removal holds the service. */
    assertNotHeld(service: string, destination: string, verb: string): void;
    stop(a: AppStopInput): AppStoppedRole[];
    start(a: AppStartInput): AppStoppedRole[];
    takeForSwitch(service: string, destination: string): AppStoppedRole[];
    restore(service: string, destination: string, roles: readonly AppStoppedRole[]): void;
    resumedBy(service: string, destination: string, deploy: { id: number; version: string; keyId: string }, roles: readonly AppStoppedRole[]): void;
    forget(service: string, destination: string): void;
  };
  /** Paused services (`deploy proxy pause`); set and clear record `proxy.pause|resume` audit rows. */
  pauses: {
    get(service: string, destination: string): PauseState | null;
    all(): PauseState[];
    set(on: PauseOn): PauseState;
    clear(off: PauseOff): PauseState | null;
  };
  /** Locks taken by people (`deploy lock`); acceptRelease refuses deploys while one is held. */
  operatorLocks: {
    get(service: string, destination: string): OperatorLock | null;
    /** ConflictError `locked` naming holder, since and message when already held. */
    acquire(a: { service: string; destination: string; keyId: string; message: string }): OperatorLock;
    /** NotFoundError when none is held; ConflictError `locked` for a removal hold. */
    release(a: { service: string; destination: string; keyId: string }): OperatorLock;
  };
  /** The store side of `deploy remove` (agent/store/removal-repo.ts, agent/engine/remove.ts). */
  removal: {
    /**
     * ConflictError `locked` while a deploy, an operator lock or a removal this
     * process runs holds the service; else holds it (taking over a removal hold
     * left by an earlier run of the agent) and clears current.
     */
    begin(a: { service: string; destination: string; keyId: string }): { previousCurrent: number | null };
    dropRoutes(service: string, destination: string): RemovedRouteRow[];
    restoreRoutes(rows: RemovedRouteRow[]): void;
    finish(a: { service: string; destination: string; keyId: string; containers: string[]; routes: number }): void;
    /** `failed`: the removal had taken the routes off; audited as `service.remove_failed`. */
    abort(a: {
      service: string; destination: string; keyId: string; previousCurrent: number | null;
      failed?: { containers: string[]; error: string };
    }): void;
  };
  /** Releases the agent makes by itself (bake-window reverts), derived from stored signed ones. */
  derived: {
    /** The deploy that was live before this one (last earlier DONE deploy of the service), if any. */
    previousLive(deployId: number): DeployRecord | undefined;
    /** Undefined while a bake of the deploy may go on (current, DONE, unlocked, not failed yet); else why not. */
    bakeOver(deployId: number): string | undefined;
    /** Records bake.failed and, when possible, a bake-revert deploy holding the lock; nothing when moved on. */
    bakeFailed(a: BakeFailureInput): BakeFailureOutcome;
  };
  /** Webhook deliveries (the last 200 per service) and the releases they derive (agent/webhooks/intake.ts). */
  webhooks: {
    record(d: NewDelivery): WebhookDelivery;
    update(id: string, u: DeliveryUpdate): void;
    get(id: string): WebhookDelivery | undefined;
    /** The kept delivery the sender gave this id to, if any. */
    findSent(a: { service: string; destination: string; source: string; senderDeliveryId: string }): WebhookDelivery | undefined;
    /** Newest first, at most 200. */
    list(service: string, destination: string, limit: number): WebhookDelivery[];
    /** The last webhook deploy of `image` that failed, was reverted or failed its bake. */
    failedBefore(service: string, destination: string, image: string): DeployRecord | undefined;
    /** The derived release and its deploy holding the lock, audited `webhook.deploy`; or why not. */
    deployWebhookRelease(a: WebhookReleaseInput): WebhookReleaseOutcome;
  };
  /** Cron runs (the last 200 per job) and each job's pause and last slot (agent/store/cron-repo.ts). */
  cron: CronRepo;
  /** Backup runs, their stored files and each schedule's last slot (agent/store/backups-repo.ts). */
  backups: BackupsRepo;
  /** The TLS certificates served through the router, without their PEM (agent/store/certificates-repo.ts). */
  certificates: CertificatesRepo;
  /** Finished deploys counted per service, destination and final state (deploy rows are never deleted). */
  deployOutcomes(): Array<{ service: string; destination: string; state: DeployState; count: number }>;
  /**
   * 'event' (DeployEvent), 'final' (DeployRecord); for the metrics, ends that the
   * pruned tables cannot count later: CRON_RUN_ENDED (CronRun), BACKUP_ENDED
   * (BackupRecord), DELIVERY_SETTLED ({service, destination, outcome}).
   */
  bus: EventEmitter;
}
