// PUT and DELETE /v1/services/:name/maintenance: the router answers the
// service's hosts with 503 and a message (its health path still reaches the
// app) until maintenance ends. The answer comes once the router serves the change.
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { MaintenanceResponse } from '../../shared/api-responses.js';
import { UserError } from '../../shared/errors.js';
import { DEFAULT_MAINTENANCE_MESSAGE, maintenanceMessageSchema } from '../../shared/maintenance.js';
import { describeIssues } from '../../shared/manifest.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { requireDeployed, serviceTarget } from './params.js';

const bodySchema = z.strictObject({
  message: maintenanceMessageSchema.optional(),
});

export function maintenanceRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  // Everything is checked before the token's jti is spent, so a refused request leaves no trace.
  const target = (c: Context<ApiEnv>) => {
    const where = serviceTarget(c);
    requireDeployed(store, where);
    return where;
  };

  app.put('/v1/services/:name/maintenance', requireToken(deps, 'deploy', { deferJti: true }), async (c) => {
    const where = target(c);
    const raw = c.get('rawBody');
    const parsed = bodySchema.safeParse(raw.length === 0 ? {} : parseJsonBody(raw));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {"message": "<text>"} or {}');
    const caller = c.get('caller');
    store.useJti(caller.jti, caller.exp);
    const maintenance = await deps.engine.setMaintenance({
      ...where,
      keyId: caller.kid,
      message: parsed.data.message ?? DEFAULT_MAINTENANCE_MESSAGE,
    });
    return c.json({ maintenance } satisfies MaintenanceResponse);
  });

  app.delete('/v1/services/:name/maintenance', requireToken(deps, 'deploy', { deferJti: true }), async (c) => {
    const where = target(c);
    if (c.get('rawBody').length > 0) throw new UserError('DELETE takes no request body');
    const caller = c.get('caller');
    store.useJti(caller.jti, caller.exp);
    await deps.engine.setMaintenance({ ...where, keyId: caller.kid, message: null });
    return c.json({ maintenance: null } satisfies MaintenanceResponse);
  });
}
