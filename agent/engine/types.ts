// What the deploy engine needs from the rest of the agent. The composition root
// maps AgentConfig (plus the loaded sealing key and BERTH_HOST) onto EngineConfig.
import type { HealthProbe } from '../http-probe.js';
import type { DeployState, JWK, MaintenanceState, PauseState, RouteSet } from '../../shared/api-types.js';
import type { AppStateResult } from '../../shared/app-state.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { GuardrailPolicy } from '../core/guardrails.js';
import type { DockerPort } from '../docker.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Unseal } from './role-secrets.js';
import type { TlsService } from '../tls/service.js';

export interface EngineConfig {
  stateDir: string;
  network: string;
  networkSubnet: string;
  /** BERTH_HOST / KAMAL_HOST inside containers. */
  hostname: string;
  sealingPrivateJwk: JWK;
  /** What releases may ask Docker for (agent/core/guardrails.ts); the default policy when absent. */
  guardrails?: GuardrailPolicy | undefined;
}

export interface TargetStats {
  inflight: number;
}

/** The part of agent/router/client.ts the engine uses. */
export interface RouterPort {
  getRoutes(): Promise<RouteSet>;
  /** Resolves once the router serves the set; rejects with status 409 when `version` is not above its own. */
  putRoutes(set: RouteSet): Promise<unknown>;
  targets(): Promise<Record<string, TargetStats>>;
  /** Hashes of the error pages the router holds (agent/engine/error-pages.ts); absent in fakes that serve none. */
  listErrorPages?(): Promise<string[]>;
  putErrorPage?(hash: string, html: string): Promise<void>;
}

export interface EngineDeps {
  store: Store;
  docker: DockerPort;
  router: RouterPort;
  config: EngineConfig;
  log: Logger;
  /** Opens a sealed secret; defaults to shared/sealing.ts. Injected only by tests. */
  unseal?: Unseal;
  /** Test seam (agent/test-seams/pause-at.ts, wired by BERTH_TEST_PAUSE_AT): awaited after each state a deploy enters. */
  afterState?: (state: DeployState) => Promise<void>;
  /** Asks a new container's health check path once; defaults to HTTP (health.ts). Injected only by tests. */
  probe?: HealthProbe;
  /** Takes the new release's before_deploy backups (agent/backups/service.ts); none without it. */
  backups?: BeforeDeployBackups;
  /** Certificates for ssl roles (agent/tls/service.ts); a release with ssl fails without it. */
  tls?: Pick<TlsService, 'prepare' | 'sync'>;
  /** Told how long each phase of a deploy took, failed or not (for timing); nothing by default. */
  onPhase?: (phase: DeployPhase, ms: number) => void;
}

/** The phases of a deploy in order (agent/engine/run-deploy.ts). */
export type DeployPhase = 'verify' | 'plan' | 'certificates' | 'pull' | 'accessories' | 'assets' | 'launch' | 'wait healthy' | 'backups' | 'switch' | 'drain' | 'finish';

export interface BeforeDeployBackups {
  /** `live`: the version serving now (null on a first deploy); `say` adds a deploy event. Throws with the reason when a backup failed. */
  beforeDeploy(next: ManifestPayload, live: string | null, say: (message: string) => void): Promise<void>;
}

export type { HealthProbe, ProbeResult } from '../http-probe.js';

export interface Engine {
  /** Drives a deploy to DONE or REVERTED; never throws. */
  run(deployId: number): Promise<void>;
  /** At start: finish or undo unfinished deploys, remove orphans, resend routes. */
  reconcile(): Promise<void>;
  /** Sends the agent's route table when the router is behind; tolerates a router that is down. */
  syncRoutes(): Promise<void>;
  /** Sends the whole route table now (routed accessories, agent/accessories/routes.ts). */
  publishRoutes(): Promise<number>;
  /** Tries again to bring deploys a failure left unfinished (lock held) to a final state. */
  retryStranded(): Promise<void>;
  /** Routes of roles with several replicas follow the replicas that run and are healthy (replica-watch.ts). */
  watchReplicas(): Promise<void>;
  /** Maintenance on (a message) or off (null), recorded once the router serves it; rejects with UpstreamError otherwise. */
  setMaintenance(change: MaintenanceChange): Promise<MaintenanceState | null>;
  /** `deploy proxy pause|resume`: resolves once the router holds (or releases) the service's requests. */
  setPause(change: PauseChange): Promise<PauseState | null>;
  /** `deploy app stop|start` on this server (agent/engine/app-state.ts). */
  appState: AppStateSwitch;
  /** `deploy remove` on this server (agent/engine/remove.ts); 409 while a deploy or operator lock holds it. */
  removeService(req: RemoveRequest): Promise<RemoveResult>;
  /** Shutdown: ends open bake windows (engine/bake.ts); resolves when a revert they started is done. */
  stopBakes(): Promise<void>;
}

export interface MaintenanceChange {
  service: string;
  destination: string;
  keyId: string;
  /** The message to show; null ends maintenance. */
  message: string | null;
}

export interface PauseChange {
  service: string;
  destination: string;
  keyId: string;
  /** Seconds a held request waits before 504; null resumes. */
  timeout: number | null;
}

/** `deploy app stop|start` on this server (agent/engine/app-state.ts). */
export interface AppStateChange {
  service: string;
  destination: string;
  keyId: string;
  /** Roles of the live release; every role when absent. */
  roles?: readonly string[] | undefined;
}

export interface AppStateSwitch {
  /** The refusals a request can get before anything changes (404 service/role, 409 held): the API checks them before spending the token. */
  check(change: AppStateChange, action: 'stop' | 'start'): void;
  stop(change: AppStateChange): Promise<AppStateResult>;
  start(change: AppStateChange): Promise<AppStateResult>;
}

export interface RemoveRequest {
  service: string;
  destination: string;
  /** Who asked; the removal is audited under this key. */
  keyId: string;
}

export interface RemoveResult {
  containers: string[];
  routes: number;
}
