// POST /v1/services/:name/app/stop and /app/start (`deploy app stop|start`,
// Kamal's `kamal app stop|start`): the live release's roles (all, or
// {"roles": [...]}) stop and leave the router, or start, pass their health
// checks and are routed again (agent/engine/app-state.ts). The answer comes
// once the router serves the change.
import type { Context, Hono } from 'hono';
import { appStateRequestSchema, type AppStateResponse } from '../../shared/app-state.js';
import { BerthError, UserError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/manifest.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { requireDeployed, serviceTarget } from './params.js';

export function appStateRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  for (const action of ['stop', 'start'] as const) {
    app.post(`/v1/services/:name/app/${action}`, requireToken(deps, 'deploy', { deferJti: true }), async (c: Context<ApiEnv>) => {
      if (!deps.appState) throw new BerthError('unavailable', 503, 'this agent was started without app stop and start');
      // Everything is checked before the token's jti is spent, so a refused request leaves no trace.
      const where = serviceTarget(c);
      requireDeployed(store, where);
      const raw = c.get('rawBody');
      const parsed = appStateRequestSchema.safeParse(raw.length === 0 ? {} : parseJsonBody(raw));
      if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {"roles": ["<role>", ...]} or {}');
      const caller = c.get('caller');
      const change = { ...where, keyId: caller.kid, roles: parsed.data.roles };
      deps.appState.check(change, action);
      store.useJti(caller.jti, caller.exp);
      const result = await deps.appState[action](change);
      return c.json({ app: result } satisfies AppStateResponse);
    });
  }
}
