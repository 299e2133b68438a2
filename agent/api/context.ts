// What every API route gets: the injected dependencies and the typed context
// variables set by middleware.
import { BerthError } from '../../shared/errors.js';
import type { GuardrailPolicy } from '../core/guardrails.js';
import type { DockerPort } from '../docker.js';
import type { Engine } from '../engine/types.js';
import type { AgentIdentity } from '../identity.js';
import type { Logger } from '../log.js';
import type { Scope, Store } from '../store/index.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { FailureLimiter } from './rate-limit.js';
import type { Upgrade } from './websocket.js';
import type { WebhookIntake } from '../webhooks/types.js';
import type { CronScheduler } from '../cron/scheduler.js';
import type { CronPolicy } from '../core/cron/policy.js';
import type { AccessoryDeps } from '../accessories/service.js';
import type { BackupService } from '../backups/service.js';

/** What logs and exec need beyond the rest of the API (agent/ops). */
export interface OpsDeps {
  docker: DockerPort;
  /** BERTH_HOST / KAMAL_HOST in exec containers. */
  hostname: string;
  network: string;
  unseal?: Unseal;
  /** How long a log follow stream lasts (--log-follow-limit); DEFAULT_FOLLOW_LIMIT_MS when absent. */
  logFollowLimitMs?: number;
  /** How long a log or exec stream waits for a client that stopped reading (ndjson.ts DEFAULT_STALL_MS when absent). */
  streamStallMs?: number;
}

export interface Caller {
  kid: string;
  scopes: Scope[];
  /** The request token's jti and exp, for routes that commit them themselves. */
  jti: string;
  exp: number;
}

export type ApiEnv = {
  Variables: {
    caller: Caller;
    /** The request body, read by requireToken under the size cap once the token verified; it matches bh. */
    rawBody: Uint8Array;
    /** Routes that stream their body (requireToken streamBody): the token's bh, to compare once the body was read. */
    bodyHash: string | undefined;
  };
};

export interface ApiDeps {
  store: Store;
  /**
   * `run` drives a deploy to a final state and never throws; `removeService`
   * (DELETE /v1/services/:name) and `setMaintenance` need the engine's route publisher.
   */
  engine: Pick<Engine, 'run' | 'removeService' | 'setMaintenance' | 'setPause'>;
  docker: Pick<DockerPort, 'listContainers'>;
  /** `deploy app stop|start` (agent/engine/app-state.ts); absent, those routes answer 503. */
  appState?: Engine['appState'];
  identity: AgentIdentity;
  log: Logger;
  /** Clock in ms (tests move it). */
  now?: () => number;
  /** Failed-auth limiter; one per app unless a test injects its own. */
  authLimiter?: FailureLimiter;
  /** What releases may ask Docker for (agent/config.ts agentGuardrails); the default policy when absent. */
  guardrails?: GuardrailPolicy;
  /** Logs and exec; absent (tests of other routes), those routes answer 503. */
  ops?: OpsDeps;
  /** WebSocket upgrades (agent/api/websocket.ts); absent, interactive exec answers 503. */
  upgradeWebSocket?: Upgrade;
  /** Where verified webhook deliveries go (agent/webhooks); absent, a webhook TOKEN that names a service gets 503. */
  webhookIntake?: WebhookIntake;
  /** The agent's cron (agent/cron/scheduler.ts); absent, the cron routes answer 503. */
  cron?: CronScheduler;
  /** What cron jobs releases may schedule (agent/core/cron/policy.ts); the default policy when absent. */
  cronPolicy?: CronPolicy;
  /** Accessory operations (agent/accessories/service.ts); absent, the accessory routes answer 503. */
  accessories?: AccessoryDeps;
  /** The shortest gap a release may schedule between backups (--backup-min-interval); 60 s when absent. */
  backupMinIntervalS?: number;
  /** The agent's backups (agent/backups/service.ts); absent, the backup routes answer 503. */
  backups?: BackupService;
  /**
   * Work a graceful shutdown must wait for (agent/running-work.ts track with
   * main's set): restores, which stop the app's writers and must start them
   * again. Absent (tests), nothing is tracked.
   */
  track?: <T>(work: Promise<T>) => Promise<T>;
  /** Webhook deliveries per (source, service) per minute (agent/api/webhook-ingress.ts default when absent). */
  webhooksPerMinute?: number;
}

export function nowMs(deps: ApiDeps): number {
  return (deps.now ?? Date.now)();
}

/** Logs and exec need the ops dependencies; an agent started without them answers 503. */
export function opsOf(deps: ApiDeps): OpsDeps {
  if (!deps.ops) throw new BerthError('unavailable', 503, 'this agent was started without logs and exec support');
  return deps.ops;
}
