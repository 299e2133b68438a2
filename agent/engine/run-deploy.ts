// The deploy state machine, read top to bottom like kamal-proxy's DeployService:
// each phase below does its work and then the runner records the state named
// next to it. A failure up to the switch is undone (revert.ts records FAILED,
// disposes of only what this deploy created, records REVERTED): the old release
// keeps serving. Past the switch the new release serves and the rest only reports.
import { errorText } from '../../shared/errors.js';
import { isFinalDeployState, type DeployState } from '../../shared/api-types.js';
import { assets, drain, finish, launchAll, planSteps, pull, switchRoutes, verify, waitHealthy } from './phases.js';
import { bootAccessories } from './accessories.js';
import { certificates } from './certificates.js';
import { beforeDeployBackups } from './backups.js';
import { revert } from './revert.js';
import type { RoutePublisher } from './route-publisher.js';
import { openRun, type RunContext } from './run-context.js';
import type { DeployPhase, EngineDeps } from './types.js';

interface Phase {
  name: DeployPhase;
  /** Does the work; returns the message `enters` is recorded with. */
  run(ctx: RunContext): Promise<string | void>;
  /** The state recorded once the phase is done; none for a phase that only prepares. */
  enters?: DeployState;
}

const UP_TO_SWITCH: readonly Phase[] = [
  { name: 'verify', run: verify, enters: 'VERIFIED' },
  { name: 'plan', run: planSteps },
  { name: 'certificates', run: certificates },
  { name: 'pull', run: pull, enters: 'PULLED' },
  { name: 'accessories', run: bootAccessories },
  { name: 'assets', run: assets },
  { name: 'launch', run: launchAll, enters: 'STARTED' },
  { name: 'wait healthy', run: waitHealthy, enters: 'HEALTHY' },
  { name: 'backups', run: beforeDeployBackups },
  { name: 'switch', run: switchRoutes, enters: 'SWITCHED' },
];

const AFTER_SWITCH: readonly Phase[] = [
  { name: 'drain', run: drain, enters: 'DRAINED' },
  { name: 'finish', run: finish, enters: 'DONE' },
];

/** Throws only when the store fails past the switch; the engine then settles the deploy. */
export async function runDeploy(deps: EngineDeps, publisher: RoutePublisher, deployId: number): Promise<void> {
  const deploy = deps.store.getDeploy(deployId);
  if (!deploy || isFinalDeployState(deploy.state)) return;
  const ctx = openRun(deps, publisher, deploy);
  try {
    await runPhases(ctx, UP_TO_SWITCH);
  } catch (err) {
    await revert(deps, deployId, errorText(err), ctx.pending, { stopTimeout: ctx.manifest?.stop_timeout ?? 10, keep: ctx.keep });
    return;
  }
  await runPhases(ctx, AFTER_SWITCH);
}

/** The one place a phase starts and ends, and where a running deploy's state moves. */
async function runPhases(ctx: RunContext, phases: readonly Phase[]): Promise<void> {
  const { store, log } = ctx.deps;
  for (const phase of phases) {
    const started = performance.now();
    try {
      const message = await phase.run(ctx);
      if (phase.enters) {
        store.setState(ctx.deployId, phase.enters);
        store.addEvent(ctx.deployId, phase.enters, message ?? phase.enters);
        log.info(message ?? phase.enters, { deploy: ctx.deployId, service: ctx.deploy.service, state: phase.enters });
      }
    } finally {
      ctx.deps.onPhase?.(phase.name, performance.now() - started);
    }
    if (phase.enters) await ctx.deps.afterState?.(phase.enters);
  }
}
