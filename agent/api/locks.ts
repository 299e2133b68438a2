// /v1/services/:name/lock: operator locks (`deploy lock status|acquire|release`).
// A lock may be taken on a service never deployed here, to keep a first deploy out.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { LockReleasedResponse, LockResponse } from '../../shared/api-responses.js';
import { UserError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/manifest.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { serviceTarget } from './params.js';

const acquireBodySchema = z.strictObject({ message: z.string() });

export function lockRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const { store } = deps;
  const path = '/v1/services/:name/lock';

  app.get(path, requireToken(deps, 'read'), (c) => {
    const { service, destination } = serviceTarget(c);
    return c.json({ lock: store.operatorLocks.get(service, destination) } satisfies LockResponse);
  });

  app.put(path, requireToken(deps, 'deploy'), (c) => {
    const { service, destination } = serviceTarget(c);
    const parsed = acquireBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
    if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {"message": "why"}');
    // The store checks the message (empty, too long, unprintable, reserved) before it changes anything.
    const lock = store.operatorLocks.acquire({ service, destination, keyId: c.get('caller').kid, message: parsed.data.message });
    return c.json({ lock } satisfies LockResponse);
  });

  app.delete(path, requireToken(deps, 'deploy'), (c) => {
    const { service, destination } = serviceTarget(c);
    return c.json({ released: store.operatorLocks.release({ service, destination, keyId: c.get('caller').kid }) } satisfies LockReleasedResponse);
  });
}
