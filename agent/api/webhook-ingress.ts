// POST /.berth/webhooks/:source/:token: where registries and CI deliver tag
// pushes, on the agent's API port and (through the router) on every app host.
// Not behind the signed-token auth: registries cannot sign requests. The
// route answers at once; the intake (agent/webhooks) does the slow work after.
//
// Order, cheapest first, so a flood of guesses costs a few HMACs each:
//   declared length > 64 KiB → 413; unknown source or a TOKEN naming no
//   service → the same 404, nothing recorded (nothing to record it against);
//   then, recorded through the intake: the per-(source, service) rate cap
//   (429), no policy or a source the policy does not list (404), the body
//   read under the cap (413), and readDelivery's verdict.
// A bad TOKEN does not count in the signed API's failure limiter: behind the
// router every delivery arrives from one socket, and guessing a 256-bit
// TOKEN is hopeless anyway. The TOKEN is never logged: errors from here are
// answered without the path (the app's onError would log it).
import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isBerthError, PayloadTooLargeError, type ErrorBody } from '../../shared/errors.js';
import type { JWK } from '../../shared/api-types.js';
import type { AutoDeployPolicy } from '../../shared/manifest.js';
import { unseal as defaultUnseal } from '../../shared/sealing.js';
import { findWebhookTarget, webhookTokenKey } from '../core/webhook-token.js';
import { isWebhookSource, MAX_BODY_BYTES, readDelivery, type WebhookSource } from '../core/webhooks/index.js';
import type { Unseal } from '../engine/role-secrets.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { WebhookIntake, WebhookRefused, WebhookTarget } from '../webhooks/types.js';
import { readHashedBody } from './body-limit.js';
import { createFailureLimiter, type FailureLimiter } from './rate-limit.js';

export const WEBHOOK_PREFIX = '/.berth/webhooks/';
export const WEBHOOK_DELIVERIES_PER_MINUTE = 60;

export interface WebhookIngressDeps {
  store: Pick<Store, 'services' | 'current' | 'getRelease'>;
  sealingPrivateJwk: JWK;
  log: Logger;
  /** Absent (an agent built without one, unit tests of other routes): a TOKEN that names a service gets 503. */
  intake?: WebhookIntake | undefined;
  unseal?: Unseal | undefined;
  now?: (() => number) | undefined;
  /** Deliveries per (source, service) per minute; WEBHOOK_DELIVERIES_PER_MINUTE when absent. */
  perMinute?: number | undefined;
}

const NOT_FOUND: ErrorBody = { error: { code: 'not_found', message: 'no webhook here' } };

export function webhookRoutes(app: Hono<any>, deps: WebhookIngressDeps): void {
  const key = webhookTokenKey(deps.sealingPrivateJwk);
  const now = deps.now ?? Date.now;
  const window = { windowMs: 60_000, now };
  const deliveries: FailureLimiter = createFailureLimiter({ max: deps.perMinute ?? WEBHOOK_DELIVERIES_PER_MINUTE, ...window });
  // Only the first 429 of a window is recorded: a flood must not push every real delivery out of the last N.
  const recorded429: FailureLimiter = createFailureLimiter({ max: 1, ...window });

  app.all(`${WEBHOOK_PREFIX}*`, async (c) => {
    try {
      return await deliver(c);
    } catch (e) {
      // Not rethrown: the app's error handler would log the path, TOKEN included.
      deps.log.error('webhook delivery failed', { err: e instanceof Error ? e.message : String(e) });
      if (isBerthError(e)) return c.json(e.toBody(), e.status as ContentfulStatusCode);
      return c.json({ error: { code: 'internal', message: 'internal error; see the agent log' } } satisfies ErrorBody, 500);
    }
  });

  async function deliver(c: Context): Promise<Response> {
    if (c.req.method !== 'POST') {
      return c.json({ error: { code: 'method_not_allowed', message: 'webhooks are delivered with POST' } } satisfies ErrorBody, 405, { allow: 'POST' });
    }
    const declared = c.req.header('content-length');
    if (declared !== undefined && (!/^\d{1,15}$/.test(declared) || Number(declared) > MAX_BODY_BYTES)) {
      return c.json(new PayloadTooLargeError(`a webhook body is at most ${MAX_BODY_BYTES} bytes`).toBody(), 413, { connection: 'close' });
    }
    const parts = c.req.path.slice(WEBHOOK_PREFIX.length).split('/');
    const [source, token] = parts;
    if (parts.length !== 2 || source === undefined || token === undefined || !isWebhookSource(source)) return c.json(NOT_FOUND, 404);
    const known = deps.store.services().map((s) => ({ service: s.name, destination: s.destination }));
    const target = findWebhookTarget(key, token, known);
    if (!target) return c.json(NOT_FOUND, 404);
    const intake = deps.intake;
    if (!intake) return c.json({ error: { code: 'unavailable', message: 'this agent takes no webhook deliveries yet' } } satisfies ErrorBody, 503);

    const refuse = (refusal: WebhookRefused, record = true) => {
      const body = { error: { code: refusal.code, message: refusal.reason } };
      if (!record) return c.json(body, refusal.status as ContentfulStatusCode, { connection: 'close' });
      const { deliveryId } = intake.refused(target, source, refusal);
      return c.json({ ...body, delivery_id: deliveryId }, refusal.status as ContentfulStatusCode);
    };

    const capKey = JSON.stringify([source, target.service, target.destination]);
    if (deliveries.blocked(capKey)) {
      const first = !recorded429.blocked(capKey);
      if (first) recorded429.fail(capKey);
      return refuse({ status: 429, code: 'rate_limited', reason: `more than ${deps.perMinute ?? WEBHOOK_DELIVERIES_PER_MINUTE} ${source} deliveries in a minute` }, first);
    }
    deliveries.fail(capKey);

    const policy = currentPolicy(deps.store, target);
    if (!policy?.sources) return refuse({ status: 404, code: 'no_policy', reason: 'the serving release has no auto_deploy policy with webhook sources' });
    const entry = policy.sources.find((s) => s.name === source);
    if (!entry) return refuse({ status: 404, code: 'source_not_allowed', reason: `the auto_deploy policy does not accept ${source} deliveries` });

    let body: Buffer;
    try {
      body = Buffer.from((await readHashedBody(c.req.raw.body, MAX_BODY_BYTES)).body);
    } catch (e) {
      if (isBerthError(e) && e.status === 413) return refuse({ status: 413, code: e.code, reason: e.message });
      throw e;
    }
    let secret: string | undefined;
    try {
      secret = entry.secret === undefined ? undefined : await openSecret(deps, entry.secret, target, source);
    } catch {
      deps.log.error('a webhook secret of the serving release could not be unsealed', { service: target.service, destination: target.destination, source });
      return refuse({ status: 500, code: 'internal', reason: 'the source’s secret could not be opened; see the agent log' });
    }
    const headers = Object.fromEntries(c.req.raw.headers.entries());
    const result = readDelivery({ source, body, headers, pathTokenOk: true, now: now(), ...(secret !== undefined ? { secret } : {}) });
    if (!result.ok) return refuse({ status: result.status, code: result.code, reason: result.reason });
    const { deliveryId } = intake.accepted(target, result.delivery);
    return c.json({ delivery_id: deliveryId }, 202);
  }
}

function currentPolicy(store: WebhookIngressDeps['store'], target: WebhookTarget): AutoDeployPolicy | undefined {
  const current = store.current(target.service, target.destination);
  if (!current) return undefined;
  return store.getRelease(current.deploy_id)?.payload.auto_deploy;
}

function openSecret(deps: WebhookIngressDeps, jwe: string, target: WebhookTarget, source: WebhookSource): Promise<string> {
  const binding = { use: 'webhook-secret' as const, service: target.service, destination: target.destination, source };
  return (deps.unseal ?? defaultUnseal)(jwe, deps.sealingPrivateJwk, binding);
}

/**
 * The API reduced to its webhook route, for the socket the router forwards
 * to: one app, so the rate cap is shared with the API port, and nothing else
 * of the API is reachable there.
 */
export function webhookOnly(app: { fetch: (req: Request, env?: unknown) => Response | Promise<Response> }) {
  return {
    fetch(req: Request, env?: unknown): Response | Promise<Response> {
      if (new URL(req.url).pathname.startsWith(WEBHOOK_PREFIX)) return app.fetch(req, env);
      return Response.json(NOT_FOUND, { status: 404 });
    },
  };
}
