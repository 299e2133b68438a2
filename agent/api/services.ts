// GET /v1/services and /v1/services/:name: what runs here and the seq the CLI
// must exceed with its next manifest.
import type { Hono } from 'hono';
import type { ServicesResponse } from '../../shared/api-responses.js';
import type { LastDeploy, ServiceDetailSent } from '../../shared/service-detail.js';
import { routeOwner } from '../core/routes.js';
import { routeTargets } from '../../shared/routes.js';
import { serviceContainers } from '../engine/observe.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { requireDeployed, serviceTarget } from './params.js';

export function serviceRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  app.get('/v1/services', requireToken(deps, 'read'), (c) => c.json({ services: store.services() } satisfies ServicesResponse));

  app.get('/v1/services/:name', requireToken(deps, 'read'), async (c) => {
    const { service: name, destination } = serviceTarget(c);

    const seq = requireDeployed(store, { service: name, destination }, 'its seq is 0');

    const containers = (await serviceContainers(deps.docker, name, destination)).map((ct) => ({
        id: ct.id,
        name: ct.name,
        role: ct.labels['berth.role'] ?? '',
        release: ct.labels['berth.release'] ?? '',
        state: ct.state,
        status: ct.running ? 'running' : ct.exitCode === null ? ct.state : `exited (${ct.exitCode})`,
      }));
    const stopped = store.appState.get(name, destination);
    // A stopped role's route is not served: it is not shown either.
    const hidden = new Set(stopped.flatMap((s) => (s.route ? [s.route] : [])));
    const routes = store.routes
      .all()
      .filter((r) => {
        if (hidden.has(r.service)) return false;
        const owner = routeOwner(r.service);
        return owner.service === name && owner.destination === destination;
      })
      .flatMap((r) => r.hosts.flatMap((host) => routeTargets(r).map((target) => ({ host, target }))));

    const latest = store.latestDeploy(name, destination);
    const lastDeploy: LastDeploy | null = latest
      ? { id: latest.id, version: latest.version, state: latest.state, trigger: latest.trigger, at: latest.updated_at, error: latest.error }
      : null;
    const service: ServiceDetailSent = {
      name, destination, seq, current: store.current(name, destination), containers, routes,
      maintenance: store.maintenance.get(name, destination),
      pause: store.pauses.get(name, destination),
      stopped,
      lock: store.operatorLocks.get(name, destination),
      last_deploy: lastDeploy,
    };
    return c.json({ service });
  });
}
