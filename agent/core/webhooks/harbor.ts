// PURE: Harbor project webhooks, in both payload formats Harbor offers:
//  - Default: `{type: "PUSH_ARTIFACT", occur_at, operator, event_data: {resources, repository}}`;
//  - CloudEvents (structured JSON): `{specversion: "1.0", id, type: "harbor.artifact.pushed", data: {resources, repository}}`.
// Harbor sends the policy's "Auth Header" as the Authorization header; it is
// the secret. Each resource with a tag is a push; other event types (pull,
// delete, scans, quota, replication) are ignored.
import { requireAuthorization, requireSecret, sha256Hex } from './verify.js';
import {
  EventList, boundedArray, deliveryIdValue, hostOf, invalid, object, optionalString, parseJson, repositoryName,
  requireMediaType, string, type Json,
} from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

export function readHarbor(input: WebhookInput): Delivery {
  requireAuthorization(input.headers.authorization, requireSecret(input.secret, 'harbor'));
  requireMediaType(input.headers['content-type'], ['application/json', 'application/cloudevents+json']);
  const body = object(parseJson(input.body), 'the body');
  const list = new EventList();
  let deliveryId: string;
  let pushed: boolean;
  let type: string;
  let data: Json;
  if (body.specversion !== undefined) {
    if (body.specversion !== '1.0') throw invalid('specversion must be "1.0"');
    deliveryId = deliveryIdValue(string(body.id, 'id'), 'id');
    type = string(body.type, 'type');
    pushed = type === 'harbor.artifact.pushed';
    data = object(body.data, 'data');
  } else {
    type = string(body.type, 'type');
    pushed = type === 'PUSH_ARTIFACT';
    data = object(body.event_data, 'event_data');
    // The default format has no id; a retried notification is the same bytes.
    deliveryId = `body-${sha256Hex(input.body).slice(0, 32)}`;
  }
  const done = (): Delivery => ({ source: 'harbor', deliveryId, events: list.events, ignored: list.ignored });
  const field = body.specversion !== undefined ? 'data' : 'event_data';
  const repo = object(data.repository, `${field}.repository`);
  const repository = repositoryName(string(repo.repo_full_name, `${field}.repository.repo_full_name`), `${field}.repository.repo_full_name`);
  if (!pushed) {
    list.ignore(`event ${type.slice(0, 40)}, not an artifact push`, repository);
    return done();
  }
  const resources = boundedArray(data.resources, `${field}.resources`);
  if (resources.length === 0) throw invalid(`${field}.resources is empty`);
  resources.forEach((raw, i) => {
    const at = `${field}.resources[${i}]`;
    const resource = object(raw, at);
    const tag = optionalString(resource.tag, `${at}.tag`);
    if (tag === undefined || tag === '') return list.ignore('artifact pushed without a tag', repository);
    const url = optionalString(resource.resource_url, `${at}.resource_url`);
    list.push({ registry: url === undefined || url === '' ? undefined : hostOf(url, `${at}.resource_url`), repository, tag }, `${at}.tag`);
  });
  return done();
}
