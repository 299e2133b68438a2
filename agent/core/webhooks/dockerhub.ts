// PURE: Docker Hub repository webhooks. Docker Hub signs nothing and sends no
// header to check, so the unguessable path token is the only authentication;
// its one event is a push, named by `push_data.tag` and `repository.repo_name`.
// `callback_url` is never called: answering it is I/O and proves nothing.
import { sha256Hex } from './verify.js';
import { EventList, object, parseJson, repositoryName, requireMediaType, string } from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

export function readDockerHub(input: WebhookInput): Delivery {
  requireMediaType(input.headers['content-type'], ['application/json']);
  const body = object(parseJson(input.body), 'the body');
  const pushData = object(body.push_data, 'push_data');
  const repo = object(body.repository, 'repository');
  const repository = repositoryName(string(repo.repo_name, 'repository.repo_name'), 'repository.repo_name');
  const list = new EventList();
  const tag = pushData.tag === undefined || pushData.tag === null ? '' : string(pushData.tag, 'push_data.tag');
  if (tag === '') list.ignore('push without a tag', repository);
  else list.push({ registry: 'docker.io', repository, tag }, 'push_data.tag');
  return { source: 'dockerhub', deliveryId: `body-${sha256Hex(input.body).slice(0, 32)}`, events: list.events, ignored: list.ignored };
}
