// DELETE /v1/services/:name: `deploy remove` on this server. The engine does
// the work (agent/engine/remove.ts); admin scope, because it deletes what runs.
import type { Hono } from 'hono';
import type { RemoveServiceResponse } from '../../shared/api-responses.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { serviceTarget } from './params.js';

export function serviceRemoveRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.delete('/v1/services/:name', requireToken(deps, 'admin'), async (c) => {
    const { service, destination } = serviceTarget(c);
    const removed = await deps.engine.removeService({ service, destination, keyId: c.get('caller').kid });
    return c.json({ removed } satisfies RemoveServiceResponse);
  });
}
