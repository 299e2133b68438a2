// PURE: what a webhook delivery becomes once verified and read. A delivery is
// a hint that a tag moved; it never carries a digest, because the agent
// resolves the tag's digest from the registry itself and trusts nothing else.

import { WEBHOOK_SOURCES, type WebhookSource } from '../../../shared/manifest.js';

export { WEBHOOK_SOURCES, type WebhookSource };

export interface WebhookInput {
  source: WebhookSource;
  /** The raw request body, exactly as received (signatures cover these bytes). */
  body: Buffer;
  /** Request headers, names in lower case. */
  headers: Readonly<Record<string, string | undefined>>;
  /** Whether the TOKEN in the request path matched (the caller compares it, in constant time). */
  pathTokenOk: boolean;
  /** The source's secret from the opened policy; sources that sign or send a header need one. */
  secret?: string;
  /** Milliseconds since the epoch (Date.now()). */
  now: number;
}

/** A tag that now points somewhere (maybe) new. */
export interface TagPush {
  /** Registry host as the payload names it (`ghcr.io`, `registry.example.com:5000`), when it does. */
  registry?: string;
  repository: string;
  tag: string;
  /** The vendor's id for this one event, when it gives one (distribution), for deduplication. */
  eventId?: string;
}

/** An authentic event that is not a tag push: recorded, never acted on. */
export interface IgnoredEvent {
  reason: string;
  repository?: string;
  tag?: string;
}

export interface Delivery {
  source: WebhookSource;
  /** The vendor's delivery id, or one derived from the request so a resent copy has the same id. */
  deliveryId?: string;
  events: TagPush[];
  ignored: IgnoredEvent[];
}

export interface WebhookRefusal {
  ok: false;
  status: 400 | 401 | 413 | 415;
  /** Stable, as in shared/errors.ts: unauthorized, payload_too_large, unsupported_media_type, invalid_payload. */
  code: string;
  /** Says what was wrong, never a secret or a header's value. */
  reason: string;
}

export type WebhookResult = { ok: true; delivery: Delivery } | WebhookRefusal;

export function isWebhookSource(s: string): s is WebhookSource {
  return (WEBHOOK_SOURCES as readonly string[]).includes(s);
}
