// GET /v1/services/:name/releases and /v1/services/:name/releases/:version:
// what was released here (for `deploy releases` and choosing a rollback
// target), and one version's stored payload, which a rollback re-signs.
import type { Hono } from 'hono';
import type { ReleaseSummary, StoredRelease } from '../../shared/api-types.js';
import type { ReleasesResponse, StoredReleaseResponse } from '../../shared/api-responses.js';
import { NotFoundError, UserError } from '../../shared/errors.js';
import { isValidVersion, manifestSubject } from '../../shared/manifest.js';
import { serviceContainers } from '../engine/observe.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { requireDeployed, serviceTarget } from './params.js';

export function serviceReleaseRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  app.get('/v1/services/:name/releases', requireToken(deps, 'read'), async (c) => {
    const { service: name, destination } = serviceTarget(c);
    requireDeployed(store, { service: name, destination });

    const presence = new Map<string, 'running' | 'stopped'>();
    for (const ct of await serviceContainers(deps.docker, name, destination)) {
      const release = ct.labels['berth.release'] ?? '';
      // Any role's container running makes the release running.
      if (ct.running) presence.set(release, 'running');
      else if (!presence.has(release)) presence.set(release, 'stopped');
    }
    const releases: ReleaseSummary[] = store
      .releaseHistory(name, destination)
      .map((r) => ({ ...r, container: presence.get(r.version) ?? null }));
    return c.json({ releases } satisfies ReleasesResponse);
  });

  // The payload carries sealed secrets (sealed to this agent only), and is
  // what a deploy key needs to roll back: deploy scope, not read.
  app.get('/v1/services/:name/releases/:version', requireToken(deps, 'deploy'), (c) => {
    const { service: name, destination } = serviceTarget(c);
    const label = manifestSubject(name, destination);
    const version = c.req.param('version');
    if (!isValidVersion(version)) throw new UserError(`release version "${version.slice(0, 80)}" is not valid`);
    const stored = store.storedRelease(name, destination, version);
    if (!stored) {
      throw new NotFoundError(`release ${version} of ${label} is not on this agent`, 'deploy releases lists the releases each server has');
    }
    const release: StoredRelease = stored;
    return c.json({ release } satisfies StoredReleaseResponse);
  });
}
