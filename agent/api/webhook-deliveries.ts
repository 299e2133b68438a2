// GET /v1/services/:name/webhook/deliveries: the webhook deliveries this agent
// kept for the service (the last 200) and what became of each, newest first,
// for `deploy webhook deliveries`.
import type { Hono } from 'hono';
import type { WebhookDeliveriesResponse } from '../../shared/api-responses.js';
import { MAX_DELIVERIES } from '../store/webhook-deliveries-repo.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { positive, requireDeployed, serviceQuery } from './params.js';

const DEFAULT_LIMIT = 20;

export function webhookDeliveryRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.get('/v1/services/:name/webhook/deliveries', requireToken(deps, 'read'), (c) => {
    const { target, query } = serviceQuery(c, ['limit']);
    requireDeployed(deps.store, target);
    const limit = query.limit === undefined ? DEFAULT_LIMIT : positive(query.limit, 'limit', MAX_DELIVERIES);
    const deliveries = deps.store.webhooks.list(target.service, target.destination, limit);
    return c.json({ deliveries } satisfies WebhookDeliveriesResponse);
  });
}
