// The deploy state machine, read top to bottom like the algorithm (kamal-proxy's
// DeployService): start the new container, wait until it is healthy without
// touching any route, switch, drain the old, stop it, prune. Any failure before
// the switch disposes only of what this deploy created; the old keeps serving.
import { UserError, isBerthError } from '../../shared/errors.js';
import { isFinalDeployState, type DeployState } from '../../shared/api-types.js';
import { isDigestReference, parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { plan, type Step } from '../core/plan.js';
import { routeFor } from '../core/routes.js';
import { observe } from './observe.js';
import { launch, aliveCheck, type Launched } from './launch.js';
import { waitHttpHealthy, waitStillRunning } from './health.js';
import { waitDrained } from './drain.js';
import { pruneContainers } from './retention.js';
import { pauseIfRequested } from './pause.js';
import { createRoutePublisher, type RoutePublisher } from './route-publisher.js';
import { createReconciler } from './reconcile.js';
import type { Engine, EngineDeps } from './types.js';

export type { Engine, EngineDeps, EngineConfig, RouterPort } from './types.js';

export function createEngine(deps: EngineDeps): Engine {
  const publisher = createRoutePublisher(deps.store, deps.router, deps.log);
  const active = new Set<number>();
  const reconciler = createReconciler(deps, publisher);
  return {
    async run(deployId) {
      if (active.has(deployId)) return;
      active.add(deployId);
      try {
        await runDeploy(deps, publisher, deployId);
      } catch (err) {
        // Only a broken store gets here; the deploy stays unfinished for reconcile.
        deps.log.error('deploy engine failure', { deploy: deployId, error: err });
      } finally {
        active.delete(deployId);
      }
    },
    reconcile: () => reconciler.reconcile(),
    syncRoutes: () => publisher.sync(),
  };
}

/** Calls engine.syncRoutes every intervalMs (skipping a tick while one runs); returns the stop function. */
export function startRouteSync(engine: Pick<Engine, 'syncRoutes'>, intervalMs: number): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    engine.syncRoutes().finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function errorText(err: unknown): string {
  if (isBerthError(err) || err instanceof Error) return err.message;
  return String(err);
}

async function runDeploy(deps: EngineDeps, publisher: RoutePublisher, deployId: number): Promise<void> {
  const { store, docker, config, log } = deps;
  const deploy = store.getDeploy(deployId);
  if (!deploy || isFinalDeployState(deploy.state)) return;

  const event = (state: DeployState, message: string, progress?: number) => store.addEvent(deployId, state, message, progress);
  const enter = async (state: DeployState, message: string) => {
    store.setState(deployId, state);
    event(state, message);
    log.info(message, { deploy: deployId, service: deploy.service, state });
    await pauseIfRequested(config, state);
  };

  const launched = new Map<string, Launched>();
  const pending: Array<Pick<Launched, 'id' | 'name' | 'origin'>> = [];
  let manifest: ManifestPayload | undefined;
  let steps: Step[] = [];
  const phase = <P extends Step['phase']>(p: P) => steps.filter((s): s is Extract<Step, { phase: P }> => s.phase === p);

  try {
    manifest = verify(store.getRelease(deployId)?.payload, deploy);
    const m = manifest;
    await enter('VERIFIED', `manifest verified: ${m.service} ${m.version} (${m.image})`);

    steps = plan(m, await observe(docker, store, m));

    for (const step of phase('PULLED')) {
      event('VERIFIED', `pulling ${step.image}`, 0);
      let reported = -1;
      await docker.pull(step.image, {
        onProgress: (percent, message) => {
          // Every 5 % is plenty for a progress bar and keeps the event table small.
          if (percent < 100 && percent - reported < 5) return;
          reported = percent;
          event('VERIFIED', `pulling: ${message}`, percent);
        },
      });
    }
    await enter('PULLED', phase('PULLED').length > 0 ? `pulled ${m.image}` : `image ${m.image} already present`);

    await docker.ensureNetwork(config.network, config.networkSubnet);
    for (const step of phase('STARTED')) {
      const l = await launch(step, {
        docker,
        manifest: m,
        deployId,
        hostname: config.hostname,
        network: config.network,
        sealingPrivateJwk: config.sealingPrivateJwk,
        unseal: deps.unseal ?? defaultUnseal,
        onCreated: (c) => pending.push(c),
      });
      launched.set(l.role, l);
      const how = { created: 'created and started', started: 'started retained container', reused: 'reusing running container' }[l.origin];
      event('STARTED', `${step.role}: ${how} ${l.name}${l.info.ip ? ` at ${l.info.ip}` : ''}`);
    }
    await enter('STARTED', `started ${[...launched.values()].map((l) => l.name).join(', ')}`);

    for (const step of phase('HEALTHY')) {
      const l = mustLaunch(launched, step.role);
      const checkAlive = aliveCheck(docker, l.id, l.name);
      if (step.kind === 'running-check') {
        await waitStillRunning(step.delaySeconds, checkAlive);
        event('STARTED', `${step.role}: still running after ${step.delaySeconds}s`);
        continue;
      }
      // A container that died at once has no address; say why it died instead.
      await checkAlive();
      if (!l.info.ip) throw new UserError(`container ${l.name} has no address on network ${config.network}`);
      await waitHttpHealthy({
        host: l.info.ip,
        port: step.port,
        path: step.path,
        intervalSeconds: step.intervalSeconds,
        requestTimeoutSeconds: step.requestTimeoutSeconds,
        timeoutSeconds: step.timeoutSeconds,
        checkAlive,
        onAttempt: (r, n) => {
          if (!r.ok && (n === 1 || n % 10 === 0)) event('STARTED', `${step.role}: waiting for GET ${step.path} to answer 2xx (${r.detail})`);
        },
      });
      event('STARTED', `${step.role}: GET ${step.path} on port ${step.port} answered 2xx`);
    }
    await enter('HEALTHY', `${m.version} is healthy`);

    const routeSteps = phase('SWITCHED');
    const newTargets = new Map<string, string>();
    for (const step of routeSteps) {
      const l = mustLaunch(launched, step.role);
      const route = routeFor(m, step.role, l.info.ip ?? '');
      if (!route) continue;
      newTargets.set(step.role, route.target);
      store.routes.set(step.service, step.destination, route);
    }
    try {
      if (routeSteps.length > 0) await publisher.publish();
    } catch (err) {
      // Put the table back so the periodic sync converges the router to the old routes.
      for (const step of routeSteps) store.routes.set(step.service, step.destination, step.previous);
      throw err;
    }
    store.setCurrent(m.service, m.destination, deployId);
    await enter(
      'SWITCHED',
      routeSteps.length > 0
        ? `router switched: ${routeSteps.map((s) => `${s.service} -> ${newTargets.get(s.role)}`).join(', ')}`
        : `${m.version} is current (no proxied role)`,
    );
  } catch (err) {
    await revert(deps, deployId, errorText(err), pending, manifest?.stop_timeout ?? 10);
    return;
  }

  // From here on the new release serves; trouble with the old ones is only reported.
  await finishAfterSwitch(deps, deployId, manifest, steps, launched, enter);
}

function mustLaunch(launched: Map<string, Launched>, role: string): Launched {
  const l = launched.get(role);
  if (!l) throw new Error(`internal: role ${role} has no started container`);
  return l;
}

function verify(payload: unknown, deploy: { service: string; destination: string; version: string }): ManifestPayload {
  if (payload === undefined) throw new UserError('the release manifest of this deploy is missing from the store');
  const m = parseManifestPayload(payload);
  if (!isDigestReference(m.image)) throw new UserError('image must be pinned by digest');
  if (m.service !== deploy.service || m.destination !== deploy.destination || m.version !== deploy.version) {
    throw new UserError('the stored manifest does not match its deploy record');
  }
  return m;
}

export async function finishAfterSwitch(
  deps: EngineDeps,
  deployId: number,
  m: ManifestPayload,
  steps: Step[],
  launched: Map<string, Launched>,
  enter: (state: DeployState, message: string) => Promise<void>,
): Promise<void> {
  const { store, docker, router } = deps;
  const event = (message: string) => store.addEvent(deployId, 'SWITCHED', message);
  for (const step of steps) {
    if (step.kind === 'drain') {
      const l = launched.get(step.role);
      const now = l?.info.ip ? routeFor(m, step.role, l.info.ip)?.target : undefined;
      if (now === step.target) continue;
      const r = await waitDrained(router, step.target, step.timeoutSeconds);
      event(
        r.drained
          ? `${step.role}: old target ${step.target} drained`
          : `${step.role}: drain of ${step.target} timed out after ${step.timeoutSeconds}s with ${r.inflight} in flight${r.lastError ? ` (${r.lastError})` : ''}`,
      );
    } else if (step.kind === 'stop') {
      try {
        await docker.stop(step.containerId, step.timeoutSeconds);
        event(`${step.role}: stopped ${step.name} (retained)`);
      } catch (err) {
        event(`${step.role}: could not stop ${step.name}: ${errorText(err)}`);
      }
    }
  }
  await enter('DRAINED', 'old containers drained and stopped');

  for (const step of steps) {
    if (step.kind !== 'prune') continue;
    const victims = step.containerIds.map((id, i) => ({ id, name: step.names[i] ?? id }));
    const r = await pruneContainers(docker, victims).catch((err: unknown) => ({ removed: [], failed: [{ name: step.role, error: errorText(err) }] }));
    if (r.removed.length) store.addEvent(deployId, 'DRAINED', `${step.role}: removed old containers ${r.removed.join(', ')} (keeping ${m.retain_containers})`);
    for (const f of r.failed) store.addEvent(deployId, 'DRAINED', `${step.role}: could not remove ${f.name}: ${f.error}`);
  }
  await enter('DONE', `${m.service} ${m.version} is live`);
}

async function revert(
  deps: EngineDeps,
  deployId: number,
  reason: string,
  pending: Array<Pick<Launched, 'id' | 'name' | 'origin'>>,
  stopTimeout: number,
): Promise<void> {
  const { store, docker, log } = deps;
  store.setState(deployId, 'FAILED', reason);
  store.addEvent(deployId, 'FAILED', reason);
  log.warn('deploy failed', { deploy: deployId, error: reason });
  await pauseIfRequested(deps.config, 'FAILED');

  const routed = routedHosts(store);
  const undone: string[] = [];
  for (const c of pending) {
    try {
      const info = await docker.inspect(c.id);
      if (!info) continue;
      // Never dispose of what serves (a redeploy that reused the routed container).
      if (info.ip && routed.has(info.ip)) continue;
      if (c.origin === 'created') {
        await docker.remove(c.id, { force: true });
        undone.push(`removed ${c.name}`);
      } else if (c.origin === 'started') {
        await docker.stop(c.id, stopTimeout);
        undone.push(`stopped ${c.name} again`);
      }
    } catch (err) {
      store.addEvent(deployId, 'FAILED', `could not clean up ${c.name}: ${errorText(err)}`);
    }
  }
  store.setState(deployId, 'REVERTED', reason);
  store.addEvent(deployId, 'REVERTED', `reverted${undone.length ? ` (${undone.join(', ')})` : ''}; the previous release keeps serving`);
}

/** The container addresses the agent's route table points at. */
export function routedHosts(store: EngineDeps['store']): Set<string> {
  return new Set(store.routes.all().map((r) => r.target.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')));
}
