// The deploy's accessories phase, after the pull and before the app's new
// containers launch (the app may need its database at boot): accessories of
// the release missing on this host are booted; a running one is never
// replaced by a deploy (its data and connections matter more than a spec
// change), so a difference is only reported, and a stopped one is left
// stopped. A failed boot fails the deploy before any app container changed.
import { BerthError } from '../../shared/errors.js';
import { accessoryStatus, bootAccessory, findAccessory, type AccessoryDeps } from '../accessories/service.js';
import { routeAccessory } from '../accessories/routes.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { ACCESSORY_KIND, ACCESSORY_LABEL } from '../core/accessories.js';
import { LABEL } from '../core/containers.js';
import { event, manifestOf, type RunContext } from './run-context.js';

export function accessoryDeps(ctx: RunContext, onEvent: (message: string) => void): AccessoryDeps {
  const { config, docker, unseal } = ctx.deps;
  return {
    docker,
    stateDir: config.stateDir,
    network: config.network,
    networkSubnet: config.networkSubnet,
    sealingPrivateJwk: config.sealingPrivateJwk,
    policy: ctx.policy,
    ...(unseal ? { unseal } : {}),
    onEvent,
    routing: { routes: ctx.deps.store.routes, publish: () => ctx.publisher.publish(), tls: ctx.deps.tls, probe: ctx.deps.probe },
  };
}

function named(name: string, err: unknown): BerthError {
  const message = `accessory ${name} could not be booted: `;
  if (err instanceof BerthError) return new BerthError(err.code, err.status, message + err.message, err.hint);
  return new BerthError('accessory_failed', 500, message + (err instanceof Error ? err.message : String(err)));
}

async function routeRunning(deps: AccessoryDeps, m: ManifestPayload, name: string): Promise<void> {
  const found = await findAccessory(deps.docker, m, name);
  if (found && deps.routing) await routeAccessory(deps.routing, deps.docker, m, name, found.id, deps.onEvent);
}

export async function bootAccessories(ctx: RunContext): Promise<void> {
  const m = manifestOf(ctx);
  const say = (message: string) => event(ctx, 'PULLED', message);
  const deps = accessoryDeps(ctx, say);
  for (const name of Object.keys(m.accessories ?? {}).sort()) {
    try {
      const status = await accessoryStatus(deps, m, name);
      if (status.container === null) {
        const { accessory } = await bootAccessory(deps, m, name);
        say(`accessory ${name}: booted ${accessory.container ?? ''} (reachable as ${accessory.host})`);
        continue;
      }
      // Running ones are (re)routed as this release says: a proxy added, changed or taken away.
      if (status.state === 'running') await routeRunning(deps, m, name);
      if (status.changes.length > 0) say(`accessory ${name}: spec changed (${status.changes.join(', ')}); deploy accessory reboot ${name} applies it`);
      if (status.state !== 'running') say(`accessory ${name}: ${status.container} is ${status.state}; left so (deploy accessory start ${name} starts it)`);
    } catch (err) {
      throw named(name, err);
    }
  }
  // One taken out of deploy.yml keeps running (it may hold data): said, never removed by a deploy.
  const listed = await ctx.deps.docker.listContainers({ [LABEL.kind]: ACCESSORY_KIND, [LABEL.service]: m.service }, true);
  for (const c of listed) {
    const name = c.labels[ACCESSORY_LABEL];
    if ((c.labels[LABEL.destination] ?? '') !== m.destination || name === undefined || Object.hasOwn(m.accessories ?? {}, name)) continue;
    say(`accessory ${name}: no longer in this release; ${c.name} is left as it is (deploy accessory remove ${name} removes it)`);
  }
}
