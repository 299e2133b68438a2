// What both a running deploy and the agent-start reconcile do once the router
// sends traffic to the new release: drain the old targets, stop the old
// containers, prune beyond retention.
import { errorText } from '../../shared/errors.js';
import type { DeployState } from '../../shared/api-types.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import type { Step } from '../core/plan.js';
import { routeTargets, splitTarget } from '../../shared/routes.js';
import { pruneAssets } from './assets.js';
import { waitDrained } from './drain.js';
import { pruneContainers } from './retention.js';
import type { EngineDeps } from './types.js';

/** The container addresses the agent's route table points at. */
export function routedHosts(store: EngineDeps['store']): Set<string> {
  const hosts = new Set<string>();
  for (const r of store.routes.all()) {
    for (const target of routeTargets(r)) {
      const t = splitTarget(target);
      if (t) hosts.add(t.host);
    }
  }
  return hosts;
}

/**
 * Drains the old targets and stops the old containers. Only a failing store
 * makes this throw: trouble with old containers is reported as events, because
 * the new release already serves. Returns the DRAINED message.
 */
export async function drainOld(deps: EngineDeps, deployId: number, steps: Step[]): Promise<string> {
  const { store, docker, router } = deps;
  const event = (message: string) => store.addEvent(deployId, 'SWITCHED', message);
  // All old targets drain at once, so several of them take drain_timeout, not a multiple.
  const drains = steps.filter((s): s is Extract<Step, { kind: 'drain' }> => s.kind === 'drain');
  const results = await Promise.all(drains.map((s) => waitDrained(router, s.target, s.timeoutSeconds)));
  drains.forEach((s, i) => {
    const r = results[i]!;
    event(
      r.drained
        ? `${s.role}: old target ${s.target} drained`
        : `${s.role}: drain of ${s.target} timed out after ${s.timeoutSeconds}s with ${r.inflight} in flight${r.lastError ? ` (${r.lastError})` : ''}`,
    );
  });
  for (const step of steps) {
    if (step.kind !== 'stop') continue;
    try {
      await docker.stop(step.containerId, step.timeoutSeconds);
      event(`${step.role}: stopped ${step.name} (retained)`);
    } catch (err) {
      event(`${step.role}: could not stop ${step.name}: ${errorText(err)}`);
    }
  }
  return 'old containers drained and stopped';
}

/** Removes old containers beyond retention; failures are only reported. Returns the DONE message. */
export async function pruneOld(deps: EngineDeps, deployId: number, m: ManifestPayload, steps: Step[]): Promise<string> {
  const { store, docker } = deps;
  for (const step of steps) {
    if (step.kind !== 'prune') continue;
    const victims = step.containerIds.map((id, i) => ({ id, name: step.names[i] ?? id }));
    const r = await pruneContainers(docker, victims).catch((err: unknown) => ({ removed: [], failed: [{ name: step.role, error: errorText(err) }] }));
    if (r.removed.length) store.addEvent(deployId, 'DRAINED', `${step.role}: removed old containers ${r.removed.join(', ')} (keeping ${m.retain_containers})`);
    for (const f of r.failed) store.addEvent(deployId, 'DRAINED', `${step.role}: could not remove ${f.name}: ${f.error}`);
  }
  await pruneAssets(deps, deployId, m);
  return `${m.service} ${m.version} is live`;
}

/** drainOld, DRAINED, pruneOld, DONE: how the reconciler finishes a switched deploy. */
export async function finishAfterSwitch(
  deps: EngineDeps,
  deployId: number,
  m: ManifestPayload,
  steps: Step[],
  enter: (state: DeployState, message: string) => Promise<void>,
): Promise<void> {
  await enter('DRAINED', await drainOld(deps, deployId, steps));
  await enter('DONE', await pruneOld(deps, deployId, m, steps));
}
