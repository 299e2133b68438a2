// What every API route gets: the injected dependencies and the typed context
// variables set by middleware.
import type { GuardrailPolicy } from '../core/guardrails.js';
import type { DockerPort } from '../docker.js';
import type { Engine } from '../engine/types.js';
import type { AgentIdentity } from '../identity.js';
import type { Logger } from '../log.js';
import type { Scope, Store } from '../store/index.js';
import type { FailureLimiter } from './rate-limit.js';

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
    /** The request body as received, read once under the size cap. */
    rawBody: Uint8Array;
  };
};

export interface ApiDeps {
  store: Store;
  /**
   * `run` drives a deploy to a final state and never throws; `removeService`
   * is DELETE /v1/services/:name (it needs the engine's route publisher).
   */
  engine: Pick<Engine, 'run' | 'removeService'>;
  docker: Pick<DockerPort, 'listContainers'>;
  identity: AgentIdentity;
  log: Logger;
  /** Clock in ms (tests move it). */
  now?: () => number;
  /** Failed-auth limiter; one per app unless a test injects its own. */
  authLimiter?: FailureLimiter;
  /** What releases may ask Docker for (agent/config.ts agentGuardrails); the default policy when absent. */
  guardrails?: GuardrailPolicy;
}

export function nowMs(deps: ApiDeps): number {
  return (deps.now ?? Date.now)();
}
