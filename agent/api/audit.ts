// GET /v1/audit: the agent's audit log, newest first, optionally for one
// service+destination, paged backwards with `before` (an entry id).
import type { Hono } from 'hono';
import type { AuditResponse } from '../../shared/api-responses.js';
import { UserError } from '../../shared/errors.js';
import { MAX_AUDIT_LIMIT } from '../store/audit-repo.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { checkName, positive, queryParams } from './params.js';

const DEFAULT_AUDIT_LIMIT = 50;

export function auditRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  app.get('/v1/audit', requireToken(deps, 'read'), (c) => {
    const q = queryParams(c, ['service', 'destination', 'limit', 'before']);
    if (q.destination !== undefined && q.service === undefined) {
      throw new UserError('destination needs service', 'GET /v1/audit?service=NAME&destination=DEST');
    }
    const service = q.service === undefined ? undefined : checkName(q.service, 'service name');
    const destination = q.destination === undefined || q.destination === '' ? '' : checkName(q.destination, 'destination');
    const limit = q.limit === undefined ? DEFAULT_AUDIT_LIMIT : positive(q.limit, 'limit', MAX_AUDIT_LIMIT);
    const beforeId = q.before === undefined ? undefined : positive(q.before, 'before', Number.MAX_SAFE_INTEGER);
    const entries = deps.store.audit.list({
      ...(service !== undefined ? { service, destination } : {}),
      ...(beforeId !== undefined ? { beforeId } : {}),
      limit,
    });
    return c.json({ entries } satisfies AuditResponse);
  });
}
