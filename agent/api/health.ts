// GET /v1/health: public liveness probe.
import type { Hono } from 'hono';
import type { HealthResponse } from '../../shared/api-responses.js';
import { BERTH_VERSION } from '../../shared/version.js';
import type { ApiEnv } from './context.js';

export function healthRoutes(app: Hono<ApiEnv>): void {
  app.get('/v1/health', (c) => c.json({ ok: true, version: BERTH_VERSION } satisfies HealthResponse));
}
