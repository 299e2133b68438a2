// POST /v1/services/:name/proxy/pause and /proxy/resume (Kamal's `proxy
// pause|resume`): the router holds the service's new requests, up to
// `timeout` seconds each and then 504, until resumed. The answer comes once
// the router serves the change. There is no automatic resume (docs/router.md "Pause").
import type { Context, Hono } from 'hono';
import { z } from 'zod';
import type { PauseResponse } from '../../shared/api-responses.js';
import { UserError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/manifest.js';
import { DEFAULT_PAUSE_TIMEOUT_S, MAX_PAUSE_TIMEOUT_S } from '../../shared/routes.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { requireDeployed, serviceTarget } from './params.js';

const bodySchema = z.strictObject({
  timeout: z.number().positive().max(MAX_PAUSE_TIMEOUT_S).optional(),
});

export function proxyPauseRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;

  // Everything is checked before the token's jti is spent, so a refused request leaves no trace.
  const target = (c: Context<ApiEnv>) => {
    const where = serviceTarget(c);
    requireDeployed(store, where);
    return where;
  };

  app.post('/v1/services/:name/proxy/pause', requireToken(deps, 'deploy', { deferJti: true }), async (c) => {
    const where = target(c);
    const raw = c.get('rawBody');
    const parsed = bodySchema.safeParse(raw.length === 0 ? {} : parseJsonBody(raw));
    if (!parsed.success) {
      throw new UserError(`request body: ${describeIssues(parsed.error)}`, `expected {"timeout": <seconds, at most ${MAX_PAUSE_TIMEOUT_S}>} or {}`);
    }
    const caller = c.get('caller');
    store.useJti(caller.jti, caller.exp);
    const pause = await deps.engine.setPause({ ...where, keyId: caller.kid, timeout: parsed.data.timeout ?? DEFAULT_PAUSE_TIMEOUT_S });
    return c.json({ pause } satisfies PauseResponse);
  });

  app.post('/v1/services/:name/proxy/resume', requireToken(deps, 'deploy', { deferJti: true }), async (c) => {
    const where = target(c);
    if (c.get('rawBody').length > 0) throw new UserError('resume takes no request body');
    const caller = c.get('caller');
    store.useJti(caller.jti, caller.exp);
    await deps.engine.setPause({ ...where, keyId: caller.kid, timeout: null });
    return c.json({ pause: null } satisfies PauseResponse);
  });
}
