// PURE: the generic source, for any CI that can run curl. The request is
//   Content-Type: application/json
//   X-Berth-Timestamp: <unix seconds>
//   X-Berth-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//   {"repository": "[registry/]namespace/name", "tag": "..."}
// The timestamp is inside the signed bytes, so a captured request cannot be
// replayed under a fresh timestamp; it must be within 5 minutes of the agent's
// clock. The delivery id is derived from the signature: a replay inside the
// window has the same id, and the caller's dedupe drops it. (An unsigned
// delivery-id header would let a replayer pick a new id, so none is read.)
// Keys are strict: a typo such as `tags` is refused, not silently ignored; a
// `digest` is allowed and dropped, since the agent resolves digests itself.
import { AuthError } from '../../../shared/errors.js';
import { hmacSha256Hex, requireSecret, requireSignature, sha256Hex } from './verify.js';
import { EventList, invalid, object, parseJson, requireMediaType, splitRepository, string } from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

export const GENERIC_WINDOW_SECONDS = 300;
const KEYS = new Set(['repository', 'tag', 'digest']);

export function readGeneric(input: WebhookInput): Delivery {
  const secret = requireSecret(input.secret, 'generic');
  const timestamp = input.headers['x-berth-timestamp'];
  if (timestamp === undefined || !/^[0-9]{1,12}$/.test(timestamp)) throw new AuthError('X-Berth-Timestamp must be unix seconds');
  const signature = input.headers['x-berth-signature'];
  requireSignature(signature, hmacSha256Hex(secret, `${timestamp}.`, input.body), 'X-Berth-Signature');
  const skew = Number(timestamp) - Math.floor(input.now / 1000);
  // An expired proof is a failed authentication, like a wrong one.
  if (skew < -GENERIC_WINDOW_SECONDS) throw new AuthError(`X-Berth-Timestamp is ${-skew}s old; deliveries are accepted for ${GENERIC_WINDOW_SECONDS}s`);
  if (skew > GENERIC_WINDOW_SECONDS) throw new AuthError(`X-Berth-Timestamp is ${skew}s in the future; clocks may differ by ${GENERIC_WINDOW_SECONDS}s`);
  requireMediaType(input.headers['content-type'], ['application/json']);
  const body = object(parseJson(input.body), 'the body');
  const unknown = Object.keys(body).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) throw invalid(`unknown key ${unknown[0]?.slice(0, 40)}; expected repository and tag`);
  const { registry, repository } = splitRepository(string(body.repository, 'repository'), 'repository');
  const list = new EventList();
  list.push({ registry, repository, tag: string(body.tag, 'tag') }, 'tag');
  return { source: 'generic', deliveryId: `sig-${sha256Hex((signature ?? '').toLowerCase()).slice(0, 32)}`, events: list.events, ignored: list.ignored };
}
