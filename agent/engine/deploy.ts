// The deploy state machine, read top to bottom like the algorithm (kamal-proxy's
// DeployService): start the new container, wait until it is healthy without
// touching any route, switch, drain the old, stop it, prune. Any failure before
// the switch disposes only of what this deploy created; the old keeps serving.
import { UserError } from '../../shared/errors.js';
import { isFinalDeployState, type DeployState } from '../../shared/api-types.js';
import { isDigestReference, parseManifestPayload, type ManifestPayload } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { checkRelease, guardrailPolicy } from '../core/guardrails.js';
import { plan, type Step } from '../core/plan.js';
import { routeFor } from '../core/routes.js';
import type { Logger } from '../log.js';
import { observe } from './observe.js';
import { launch, aliveCheck, type Launched } from './launch.js';
import { runningAddress, waitHttpHealthy, waitStillRunning } from './health.js';
import { describeLogin, registryAuth } from './registry-auth.js';
import { openRoleSecrets, roleFingerprints } from './role-secrets.js';
import { createRoutePublisher, type RoutePublisher } from './route-publisher.js';
import { createReconciler } from './reconcile.js';
import { createMaintenanceSwitch } from './maintenance.js';
import { finishAfterSwitch } from './finish.js';
import { errorText } from '../../shared/errors.js';
import { revert, type Pending } from './revert.js';
import { removeService } from './remove.js';
import { createBakeWatcher } from './bake.js';
import type { Engine, EngineDeps } from './types.js';

export type { Engine, EngineDeps, EngineConfig, MaintenanceChange, RouterPort } from './types.js';

/** Retries of a stranded deploy before it is forced final (about 5 minutes at the 5 s tick). */
const MAX_SETTLE_ATTEMPTS = 60;

export function createEngine(deps: EngineDeps): Engine {
  const { store, log } = deps;
  const publisher = createRoutePublisher(store, deps.router, log);
  const active = new Set<number>();
  // Deploys a failure left unfinished, with the lock held: id -> failed settle attempts.
  const stranded = new Map<number, number>();
  const reconciler = createReconciler(deps, publisher);
  // A failed bake's revert is a deploy like any other: it runs through this engine.
  const bakes = createBakeWatcher(deps, (id) => engine.run(id));

  const settle = async (id: number, force: boolean): Promise<void> => {
    const d = store.getDeploy(id);
    if (d && !isFinalDeployState(d.state)) await reconciler.settle(d, { why: 'deploy interrupted', force });
  };

  const engine: Engine = {
    async run(deployId) {
      if (active.has(deployId)) return;
      active.add(deployId);
      try {
        await runDeploy(deps, publisher, deployId);
      } catch (err) {
        log.error('deploy engine failure; settling the deploy', { deploy: deployId, error: err });
        // Once right away; if that fails too, the periodic loop keeps trying.
        await settle(deployId, false).catch((e: unknown) => {
          log.error('could not settle the deploy; will retry', { deploy: deployId, error: e });
          stranded.set(deployId, 1);
        });
      } finally {
        active.delete(deployId);
      }
      bakes.afterRun(deployId);
    },
    async reconcile() {
      for (const id of await reconciler.reconcile()) stranded.set(id, 1);
      bakes.resume();
    },
    stopBakes: () => bakes.stop(),
    async syncRoutes() {
      await publisher.sync();
    },
    setMaintenance: createMaintenanceSwitch(store, publisher),
    removeService: (req) => removeService({ store, docker: deps.docker, publisher, log }, req),
    async retryStranded() {
      for (const [id, attempts] of [...stranded]) {
        if (active.has(id)) continue;
        active.add(id);
        try {
          await settle(id, attempts + 1 >= MAX_SETTLE_ATTEMPTS);
          stranded.delete(id);
          // A deploy that only now went live gets its bake window like any other.
          bakes.afterRun(id);
        } catch (err) {
          stranded.set(id, attempts + 1);
          log.warn('could not settle an unfinished deploy; will retry', { deploy: id, attempts: attempts + 1, error: err });
        } finally {
          active.delete(id);
        }
      }
    },
  };
  return engine;
}

/**
 * Every intervalMs: resend routes if the router is behind, then retry stranded
 * deploys (skipping a tick while one runs). Returns the stop function.
 */
export function startRouteSync(engine: Pick<Engine, 'syncRoutes' | 'retryStranded'>, intervalMs: number, log: Logger): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    // Both already tolerate a dead router or Docker; this only guards against the unforeseen.
    engine
      .syncRoutes()
      .catch((err: unknown) => log.error('periodic route sync failed', { error: err }))
      .then(() => engine.retryStranded())
      .catch((err: unknown) => log.error('periodic retry of unfinished deploys failed', { error: err }))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
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
    await deps.afterState?.(state);
  };

  const launched = new Map<string, Launched>();
  const pending: Pending[] = [];
  // Containers the router may still send traffic to: a revert must leave them.
  const keep = new Set<string>();
  let manifest: ManifestPayload | undefined;
  let steps: Step[] = [];
  const phase = <P extends Step['phase']>(p: P) => steps.filter((s): s is Extract<Step, { phase: P }> => s.phase === p);

  try {
    manifest = verify(store.getRelease(deployId)?.payload, deploy);
    const m = manifest;
    await enter('VERIFIED', `manifest verified: ${m.service} ${m.version} (${m.image})`);

    const policy = config.guardrails ?? guardrailPolicy();
    // Accepted under the same rules, but the agent may have restarted with narrower ones since.
    checkRelease(m, policy);
    const secrets = await openRoleSecrets(m, config.sealingPrivateJwk, deps.unseal ?? defaultUnseal);
    const fingerprints = roleFingerprints(m, secrets, config.sealingPrivateJwk);
    steps = plan(m, await observe(docker, store, m), fingerprints);

    for (const step of phase('PULLED')) {
      const auth = await registryAuth(m, config.sealingPrivateJwk, deps.unseal ?? defaultUnseal);
      event('VERIFIED', `pulling ${step.image}${describeLogin(auth)}`, 0);
      let reported = -1;
      await docker.pull(step.image, {
        ...(auth ? { auth } : {}),
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
        secrets,
        fingerprints,
        policy,
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
      // Not the address seen at launch: a container that died since has none
      // (then say why it died), and one Docker restarted may have another.
      const ip = await runningAddress(() => docker.inspect(l.id), checkAlive, { name: l.name, network: config.network });
      launched.set(step.role, { ...l, info: { ...l.info, ip } });
      await waitHttpHealthy({
        host: ip,
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
      // The router may have applied the switch even though its answer never came
      // (a timeout): it must serve the old table again before the new container goes.
      for (const step of routeSteps) store.routes.set(step.service, step.destination, step.previous);
      try {
        await publisher.publish();
      } catch (restoreErr) {
        for (const c of pending) keep.add(c.id);
        log.warn('could not restore the old routes on the router; leaving the new containers in place', { deploy: deployId, error: restoreErr });
      }
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
    await revert(deps, deployId, errorText(err), pending, { stopTimeout: manifest?.stop_timeout ?? 10, keep });
    return;
  }

  // From here on the new release serves; trouble with the old ones is only reported.
  await finishAfterSwitch(deps, deployId, manifest, steps, enter);
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
