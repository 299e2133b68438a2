// buildApp: the agent's HTTP API from injected dependencies (no ports, no
// globals), and the one place API errors become responses.
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isBerthError, type ErrorBody } from '../../shared/errors.js';
import { accessoryRoutes } from './accessories.js';
import { auditRoutes } from './audit.js';
import { backupRestoreRoutes, isRestoreUpload } from './backup-restore.js';
import { backupRoutes } from './backups.js';
import { refuseDeclaredOversize } from './body-limit.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { cronRoutes } from './cron.js';
import { deployRoutes } from './deploys.js';
import { execRoutes } from './exec.js';
import { healthRoutes } from './health.js';
import { identityRoutes } from './identity.js';
import { appStateRoutes } from './app-state.js';
import { maintenanceRoutes } from './maintenance.js';
import { proxyPauseRoutes } from './proxy-pause.js';
import { logRoutes } from './logs.js';
import { lockRoutes } from './locks.js';
import { createFailureLimiter } from './rate-limit.js';
import { releaseRoutes } from './releases.js';
import { serviceRemoveRoutes } from './service-remove.js';
import { serviceReleaseRoutes } from './service-releases.js';
import { serviceRoutes } from './services.js';
import { webhookDeliveryRoutes } from './webhook-deliveries.js';
import { webhookRoutes } from './webhook-ingress.js';
import { webhookUrlRoutes } from './webhook-url.js';

export type { ApiDeps, ApiEnv } from './context.js';

export const AUTH_FAILURES_PER_MINUTE = 20;

export function buildApp(deps: ApiDeps): Hono<ApiEnv> {
  const full: ApiDeps = {
    ...deps,
    authLimiter: deps.authLimiter ?? createFailureLimiter({ max: AUTH_FAILURES_PER_MINUTE, windowMs: 60_000, ...(deps.now ? { now: deps.now } : {}) }),
  };
  const app = new Hono<ApiEnv>();

  app.onError((err, c) => {
    if (isBerthError(err)) {
      if (err.status >= 500) full.log.error('request failed', { path: c.req.path, code: err.code, err: err.message });
      return c.json(err.toBody(), err.status as ContentfulStatusCode, refusedBeforeBody(c.req.raw, err.status) ? { connection: 'close' } : undefined);
    }
    // Unknown errors may carry internals (paths, SQL); the client gets none of it.
    full.log.error('unexpected error', { method: c.req.method, path: c.req.path, err, stack: err.stack ?? '' });
    return c.json({ error: { code: 'internal', message: 'internal error; see the agent log' } } satisfies ErrorBody, 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } } satisfies ErrorBody, 404));

  // Bodies themselves are read by requireToken, once the signature verified.
  app.use('*', refuseDeclaredOversize(undefined, isRestoreUpload));
  healthRoutes(app);
  webhookRoutes(app, webhookDeps(full));
  identityRoutes(app, full);
  releaseRoutes(app, full);
  deployRoutes(app, full);
  serviceRoutes(app, full);
  lockRoutes(app, full);
  serviceRemoveRoutes(app, full);
  auditRoutes(app, full);
  serviceReleaseRoutes(app, full);
  webhookDeliveryRoutes(app, full);
  maintenanceRoutes(app, full);
  proxyPauseRoutes(app, full);
  appStateRoutes(app, full);
  logRoutes(app, full);
  execRoutes(app, full);
  webhookUrlRoutes(app, full);
  cronRoutes(app, full);
  accessoryRoutes(app, full);
  backupRoutes(app, full);
  backupRestoreRoutes(app, full);
  return app;
}

/** The webhook route's share of the API's dependencies (the router's socket gets the same). */
export function webhookDeps(deps: ApiDeps) {
  return {
    store: deps.store, sealingPrivateJwk: deps.identity.sealingPrivateJwk, log: deps.log,
    intake: deps.webhookIntake, now: deps.now, perMinute: deps.webhooksPerMinute,
  };
}

/**
 * A request refused (401, 403, 413, 429) before its body was read: the connection
 * is closed rather than kept alive, which would mean reading and discarding
 * whatever the client still sends.
 */
function refusedBeforeBody(req: Request, status: number): boolean {
  if (status !== 401 && status !== 403 && status !== 413 && status !== 429) return false;
  const length = req.headers.get('content-length');
  return (length !== null && length !== '0') || req.headers.has('transfer-encoding');
}
