// Undoing a deploy that failed before its switch: dispose of only what this
// deploy created or started, and mark it REVERTED so its lock is freed.
import type { EngineDeps } from './types.js';
import type { Launched } from './launch.js';
import { routedHosts } from './finish.js';
import { errorText } from '../../shared/errors.js';

/** halted: a running old container this deploy stopped to free its published ports (engine/publish-handover.ts); a revert starts it again. */
export type Pending = Pick<Launched, 'id' | 'name'> & { origin: Launched['origin'] | 'halted' };

export async function revert(
  deps: EngineDeps,
  deployId: number,
  reason: string,
  pending: Pending[],
  opts: { stopTimeout: number; keep?: ReadonlySet<string> },
): Promise<void> {
  const { store, docker, log } = deps;
  store.setState(deployId, 'FAILED', reason);
  store.addEvent(deployId, 'FAILED', reason);
  log.warn('deploy failed', { deploy: deployId, error: reason });
  try {
    await deps.afterState?.('FAILED');
  } catch (err) {
    log.warn('test pause hook failed', { error: err });
  }

  const routed = routedHosts(store);
  const undone: string[] = [];
  // The old containers stopped for their host ports come back last, once what took the ports is gone.
  for (const c of [...pending.filter((p) => p.origin !== 'halted'), ...pending.filter((p) => p.origin === 'halted')]) {
    if (opts.keep?.has(c.id)) {
      store.addEvent(deployId, 'FAILED', `left ${c.name} in place: the router may still send traffic to it`);
      continue;
    }
    try {
      const info = await docker.inspect(c.id);
      if (!info) continue;
      if (c.origin === 'halted') {
        if (!info.running) await docker.start(c.id);
        undone.push(`started ${c.name} again`);
        continue;
      }
      // Never dispose of what serves (a redeploy that reused the routed container).
      if (info.ip && routed.has(info.ip)) continue;
      if (c.origin === 'created') {
        await docker.remove(c.id, { force: true });
        undone.push(`removed ${c.name}`);
      } else if (c.origin === 'started') {
        await docker.stop(c.id, opts.stopTimeout);
        undone.push(`stopped ${c.name} again`);
      }
    } catch (err) {
      store.addEvent(deployId, 'FAILED', `could not clean up ${c.name}: ${errorText(err)}`);
    }
  }
  store.setState(deployId, 'REVERTED', reason);
  store.addEvent(deployId, 'REVERTED', `reverted${undone.length ? ` (${undone.join(', ')})` : ''}; the previous release keeps serving`);
}
