// The engine object the agent holds: runs deploys (run-deploy.ts), settles the
// ones a failure or a restart left unfinished (reconcile.ts), and owns the
// route publisher, bake windows, maintenance and removal.
import { isFinalDeployState } from '../../shared/api-types.js';
import type { Logger } from '../log.js';
import { createRoutePublisher } from './route-publisher.js';
import { createReconciler } from './reconcile.js';
import { createAppState } from './app-state.js';
import { createMaintenanceSwitch } from './maintenance.js';
import { createPauseSwitch } from './pause.js';
import { removeService } from './remove.js';
import { createBakeWatcher } from './bake.js';
import { createReplicaWatch } from './replica-watch.js';
import { runDeploy } from './run-deploy.js';
import type { Engine, EngineDeps } from './types.js';

export type { Engine, EngineDeps, EngineConfig, MaintenanceChange, PauseChange, RouterPort } from './types.js';

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
  const replicas = createReplicaWatch(deps, publisher);

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
    watchReplicas: () => replicas.check(),
    async syncRoutes() {
      // Certificates first: a route's redirect to HTTPS waits for its host's certificate.
      await deps.tls?.sync();
      await publisher.sync();
    },
    publishRoutes: () => publisher.publish(),
    setMaintenance: createMaintenanceSwitch(store, publisher),
    setPause: createPauseSwitch(store, publisher),
    appState: createAppState({ store, docker: deps.docker, log, network: deps.config.network, probe: deps.probe }, publisher),
    removeService: (req) => removeService({ store, docker: deps.docker, publisher, log, stateDir: deps.config.stateDir }, req),
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
 * deploys. Returns the stop function.
 */
export function startRouteSync(engine: Pick<Engine, 'syncRoutes' | 'retryStranded'>, intervalMs: number, log: Logger): () => void {
  // Both already tolerate a dead router or Docker; this only guards against the unforeseen.
  return everyInterval(intervalMs, () =>
    engine
      .syncRoutes()
      .catch((err: unknown) => log.error('periodic route sync failed', { error: err }))
      .then(() => engine.retryStranded())
      .catch((err: unknown) => log.error('periodic retry of unfinished deploys failed', { error: err })),
  );
}

/** Every intervalMs, one look at the replicas of current releases. Returns the stop function. */
export function startReplicaWatch(engine: Pick<Engine, 'watchReplicas'>, intervalMs: number, log: Logger): () => void {
  return everyInterval(intervalMs, () =>
    engine.watchReplicas().catch((err: unknown) => log.warn('could not check the replicas of current releases', { error: err })),
  );
}

/** Runs `task` every intervalMs, skipping a tick while the last run is still going; never keeps the process alive. */
function everyInterval(intervalMs: number, task: () => Promise<unknown>): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void task().finally(() => {
      busy = false;
    });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
