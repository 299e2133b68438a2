// The work a graceful shutdown waits for before it closes the store: deploys,
// removals and maintenance switches the API started. Each writes the store
// when it ends; closing it under one leaves the service half-done (a removal
// hold nothing lifts until someone runs deploy remove again).
import type { ApiDeps } from './api/context.js';

type ApiEngine = ApiDeps['engine'];

/** Adds `work` to `running` until it settles; the caller still gets its result or error. */
export function track<T>(running: Set<Promise<void>>, work: Promise<T>): Promise<T> {
  const settled = work.then(() => undefined, () => undefined);
  running.add(settled);
  void settled.then(() => running.delete(settled));
  return work;
}

/** The engine as the API calls it, with every call it starts tracked in `running`. */
export function trackedEngine(engine: ApiEngine, running: Set<Promise<void>>): ApiEngine {
  return {
    run: (deployId) => track(running, engine.run(deployId)),
    setMaintenance: (change) => track(running, engine.setMaintenance(change)),
    setPause: (change) => track(running, engine.setPause(change)),
    removeService: (req) => track(running, engine.removeService(req)),
  };
}
