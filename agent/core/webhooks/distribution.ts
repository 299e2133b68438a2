// PURE: CNCF distribution (registry:2/3) notifications. The registry posts an
// envelope `{events: [...]}` with the endpoint's configured headers; the
// Authorization header is the secret. A tag push is a `push` of a manifest
// whose target names a tag; layers (blobs), pulls, deletes and pushes by
// digest are ignored.
import { requireAuthorization, requireSecret, sha256Hex } from './verify.js';
import {
  EventList, boundedArray, deliveryIdValue, invalid, object, optionalObject, optionalString, parseJson,
  registryHost, repositoryName, requireMediaType, string,
} from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

// v1 is what registries before 2.7 sent; the envelope is otherwise the same.
const ENVELOPE_TYPES = ['application/vnd.docker.distribution.events.v2+json', 'application/vnd.docker.distribution.events.v1+json'];

const MANIFEST_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
]);

export function readDistribution(input: WebhookInput): Delivery {
  requireAuthorization(input.headers.authorization, requireSecret(input.secret, 'distribution'));
  requireMediaType(input.headers['content-type'], ENVELOPE_TYPES);
  const envelope = object(parseJson(input.body), 'the envelope');
  const list = new EventList();
  boundedArray(envelope.events, 'events').forEach((raw, i) => {
    const field = `events[${i}]`;
    const event = object(raw, field);
    const action = string(event.action, `${field}.action`);
    const target = object(event.target, `${field}.target`);
    const repository = repositoryName(string(target.repository, `${field}.target.repository`), `${field}.target.repository`);
    const tag = optionalString(target.tag, `${field}.target.tag`);
    if (action !== 'push') return list.ignore(action === 'pull' || action === 'delete' ? action : `action ${action.slice(0, 40)}`, repository, tag);
    const mediaType = optionalString(target.mediaType, `${field}.target.mediaType`);
    if (mediaType === undefined || !MANIFEST_TYPES.has(mediaType)) return list.ignore('blob push (not a manifest)', repository);
    if (tag === undefined || tag === '') return list.ignore('manifest pushed by digest (no tag)', repository);
    const host = optionalString(optionalObject(event.request, `${field}.request`)?.host, `${field}.request.host`);
    const id = optionalString(event.id, `${field}.id`);
    list.push({
      registry: host === undefined || host === '' ? undefined : registryHost(host, `${field}.request.host`),
      repository,
      tag,
      eventId: id === undefined ? undefined : deliveryIdValue(id, `${field}.id`),
    }, `${field}.target.tag`);
  });
  if (list.events.length + list.ignored.length === 0) throw invalid('events is empty');
  // No envelope id: a resent envelope is the same bytes, so their hash dedupes it.
  return { source: 'distribution', deliveryId: `body-${sha256Hex(input.body).slice(0, 32)}`, events: list.events, ignored: list.ignored };
}
