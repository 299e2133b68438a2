// PURE: one entry point from a raw webhook request to a verified delivery or a
// typed refusal. The order is fixed for every source: size (413) before
// anything else, the path token (401), then the source's own authentication
// (401) before its body is parsed (400/415); the body of an unauthenticated
// request is never read as JSON.
import { isBerthError } from '../../../shared/errors.js';
import { readDistribution } from './distribution.js';
import { readDockerHub } from './dockerhub.js';
import { readGeneric } from './generic.js';
import { readGitHub } from './github.js';
import { readHarbor } from './harbor.js';
import { requireBodySize } from './payload.js';
import { readQuay } from './quay.js';
import type { Delivery, WebhookInput, WebhookRefusal, WebhookResult, WebhookSource } from './types.js';
import { requirePathToken } from './verify.js';

export type { Delivery, IgnoredEvent, TagPush, WebhookInput, WebhookRefusal, WebhookResult, WebhookSource } from './types.js';
export { WEBHOOK_SOURCES, isWebhookSource } from './types.js';
export { MAX_BODY_BYTES, MAX_EVENTS } from './payload.js';
export { GENERIC_WINDOW_SECONDS } from './generic.js';

const READERS: Record<WebhookSource, (input: WebhookInput) => Delivery> = {
  distribution: readDistribution,
  dockerhub: readDockerHub,
  github: readGitHub,
  harbor: readHarbor,
  quay: readQuay,
  generic: readGeneric,
};

const STATUSES = new Set<WebhookRefusal['status']>([400, 401, 413, 415]);

export function readDelivery(input: WebhookInput): WebhookResult {
  try {
    requireBodySize(input.body);
    requirePathToken(input.pathTokenOk);
    return { ok: true, delivery: READERS[input.source](input) };
  } catch (e) {
    if (isBerthError(e) && STATUSES.has(e.status as WebhookRefusal['status'])) {
      return { ok: false, status: e.status as WebhookRefusal['status'], code: e.code, reason: e.message };
    }
    throw e;
  }
}
