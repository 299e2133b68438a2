// A role that publishes host ports (options.publish) cannot start its new
// container beside the old one: Docker refuses the second bind of a host port
// ("port is already allocated"). Kamal starts the new container first and so
// fails every deploy after the first; Berth stops the role's old containers
// just before the new one starts instead, accepting downtime until the new one
// is healthy, and says so in the deploy's events. A revert starts them again
// (engine/revert.ts, origin "halted").
import { translateOptions } from '../core/docker-options.js';
import { roleOf } from '../core/containers.js';
import type { StartStep } from './launch.js';
import { event, manifestOf, stepsOf, type RunContext } from './run-context.js';

/** Whether the role's containers hold host ports. */
export function publishesPorts(ctx: RunContext, role: string): boolean {
  const bindings = translateOptions(role, roleOf(manifestOf(ctx), role).options).host.PortBindings;
  return bindings !== undefined && Object.keys(bindings).length > 0;
}

/** Before `step` starts a container: stops the role's running old containers when they hold its host ports. */
export async function freePublishedPorts(ctx: RunContext, step: StartStep): Promise<void> {
  if (step.kind === 'reuse' || !publishesPorts(ctx, step.role)) return;
  const halted = new Set(ctx.pending.filter((p) => p.origin === 'halted').map((p) => p.id));
  for (const old of stepsOf(ctx, 'DRAINED')) {
    if (old.kind !== 'stop' || old.role !== step.role || halted.has(old.containerId)) continue;
    event(ctx, 'STARTED', `${step.role}: publishes host ports, so ${old.name} stops before the new container starts (no traffic until it is healthy)`);
    ctx.pending.push({ id: old.containerId, name: old.name, origin: 'halted' });
    await ctx.deps.docker.stop(old.containerId, old.timeoutSeconds);
  }
}
