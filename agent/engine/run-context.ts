// One deploy run as the phases see it: what it deploys, what the plan says, and
// what it has created so far (for the undo). Each phase reads and fills it in.
import type { DeployRecord, DeployState } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { guardrailPolicy, type GuardrailPolicy } from '../core/guardrails.js';
import type { Step } from '../core/plan.js';
import type { Launched } from './launch.js';
import type { Pending } from './revert.js';
import type { RoleSecrets } from './role-secrets.js';
import type { RoutePublisher } from './route-publisher.js';
import type { EngineDeps } from './types.js';

export interface RunContext {
  deps: EngineDeps;
  publisher: RoutePublisher;
  deployId: number;
  deploy: DeployRecord;
  /** Set by verify; manifestOf reads it. */
  manifest?: ManifestPayload;
  policy: GuardrailPolicy;
  secrets: RoleSecrets;
  /** Spec fingerprints by role (the berth.spec label). */
  fingerprints: Record<string, string>;
  /** Set by plan. */
  steps: Step[];
  /** By role: its containers of this release, one per replica, the first replica first. */
  launched: Map<string, Launched[]>;
  /** What this deploy created or started, as soon as it exists: a revert disposes of these. */
  pending: Pending[];
  /** Containers the router may still send traffic to: a revert must leave them. */
  keep: Set<string>;
  /** Set by the assets phase when some role's assets are bridged (agent/engine/assets.ts). */
  assetRoot?: string;
}

/** A fresh context for a deploy about to run. */
export function openRun(deps: EngineDeps, publisher: RoutePublisher, deploy: DeployRecord): RunContext {
  return {
    deps,
    publisher,
    deployId: deploy.id,
    deploy,
    policy: deps.config.guardrails ?? guardrailPolicy(),
    secrets: {},
    fingerprints: {},
    steps: [],
    launched: new Map(),
    pending: [],
    keep: new Set(),
  };
}

export function manifestOf(ctx: RunContext): ManifestPayload {
  if (!ctx.manifest) throw new Error('internal: a deploy phase ran before verify');
  return ctx.manifest;
}

/** The plan's steps of one phase. */
export function stepsOf<P extends Step['phase']>(ctx: RunContext, phase: P): Extract<Step, { phase: P }>[] {
  return ctx.steps.filter((s): s is Extract<Step, { phase: P }> => s.phase === phase);
}

export function launchedRole(ctx: RunContext, role: string): Launched[] {
  const l = ctx.launched.get(role);
  if (!l?.length) throw new Error(`internal: role ${role} has no started container`);
  return l;
}

/** An event under the state the deploy is in while the phase works. */
export function event(ctx: RunContext, state: DeployState, message: string, progress?: number): void {
  ctx.deps.store.addEvent(ctx.deployId, state, message, progress);
}
