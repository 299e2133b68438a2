// PURE: Quay repository notifications ("Push to Repository", webhook method).
// Quay signs nothing, so the path token is the only authentication. A push
// names `repository` (namespace/name), `docker_url` (host/namespace/name) and
// `updated_tags`: a list in current Quay, a map tag → image id in old Quay.
// Other notifications of the same webhook (builds, scans) are ignored.
import { sha256Hex } from './verify.js';
import { EventList, MAX_EVENTS, boundedArray, hostOf, invalid, isObject, object, parseJson, repositoryName, requireMediaType, string } from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

export function readQuay(input: WebhookInput): Delivery {
  requireMediaType(input.headers['content-type'], ['application/json']);
  const body = object(parseJson(input.body), 'the body');
  const repository = repositoryName(string(body.repository, 'repository'), 'repository');
  const deliveryId = `body-${sha256Hex(input.body).slice(0, 32)}`;
  const list = new EventList();
  if (body.updated_tags === undefined) {
    list.ignore(body.build_id !== undefined ? 'build notification, not a push' : 'not a repository push (no updated_tags)', repository);
    return { source: 'quay', deliveryId, events: list.events, ignored: list.ignored };
  }
  const registry = hostOf(string(body.docker_url, 'docker_url'), 'docker_url');
  const tags = isObject(body.updated_tags) ? Object.keys(body.updated_tags) : boundedArray(body.updated_tags, 'updated_tags');
  if (tags.length > MAX_EVENTS) throw invalid(`updated_tags has ${tags.length} entries; at most ${MAX_EVENTS} per delivery`);
  if (tags.length === 0) list.ignore('push without a tag', repository);
  tags.forEach((t, i) => list.push({ registry, repository, tag: string(t, `updated_tags[${i}]`) }, `updated_tags[${i}]`));
  return { source: 'quay', deliveryId, events: list.events, ignored: list.ignored };
}
