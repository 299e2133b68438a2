// GET /v1/services/:name/webhook: the paths registries deliver to, one per
// source the serving release's policy accepts. Scope deploy, because each
// path holds the service's TOKEN: whoever has it can make the agent look up
// the tag (never deploy anything the policy and the registry do not agree on).
import type { Hono } from 'hono';
import type { WebhookUrlResponse } from '../../shared/api-responses.js';
import { webhookToken, webhookTokenKey } from '../core/webhook-token.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { requireDeployed, serviceTarget } from './params.js';
import { WEBHOOK_PREFIX } from './webhook-ingress.js';

export function webhookUrlRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const key = webhookTokenKey(deps.identity.sealingPrivateJwk);

  app.get('/v1/services/:name/webhook', requireToken(deps, 'deploy'), (c) => {
    const target = serviceTarget(c);
    requireDeployed(deps.store, target);
    const current = deps.store.current(target.service, target.destination);
    const policy = current ? deps.store.getRelease(current.deploy_id)?.payload.auto_deploy : undefined;
    const sources = (policy?.sources ?? []).map((s) => s.name);
    const token = webhookToken(key, target);
    const body: WebhookUrlResponse = {
      urls: sources.map((source) => ({ source, path: `${WEBHOOK_PREFIX}${source}/${token}` })),
      policy: policy ? { tag: policy.tag, sources, poll: policy.poll ?? null } : null,
    };
    return c.json(body);
  });
}
