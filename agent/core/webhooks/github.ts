// PURE: GitHub `package` (and the older `registry_package`) webhooks for
// container packages on GHCR. GitHub signs the raw body:
// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, names the
// event in `X-GitHub-Event` and the delivery in `X-GitHub-Delivery` (a GUID,
// the same on GitHub's redeliveries). `published` and `updated` of a version
// with a tag count as a push; a multi-platform push also publishes its
// platform manifests without a tag, and those are ignored.
import { hmacSha256Hex, requireSecret, requireSignature } from './verify.js';
import {
  EventList, deliveryIdValue, invalid, object, optionalObject, optionalString, parseJson, repositoryName,
  requireMediaType, string,
} from './payload.js';
import type { Delivery, WebhookInput } from './types.js';

const PACKAGE_EVENTS = new Set(['package', 'registry_package']);
const PUSH_ACTIONS = new Set(['published', 'updated']);

export function readGitHub(input: WebhookInput): Delivery {
  const secret = requireSecret(input.secret, 'github');
  requireSignature(input.headers['x-hub-signature-256'], hmacSha256Hex(secret, input.body), 'X-Hub-Signature-256');
  const name = input.headers['x-github-event'];
  if (name === undefined || name === '') throw invalid('X-GitHub-Event is missing');
  const delivery = input.headers['x-github-delivery'];
  if (delivery === undefined || delivery === '') throw invalid('X-GitHub-Delivery is missing');
  const deliveryId = deliveryIdValue(delivery, 'X-GitHub-Delivery');
  // GitHub also offers form-encoded deliveries (payload=...); only JSON is read.
  requireMediaType(input.headers['content-type'], ['application/json']);
  const body = object(parseJson(input.body), 'the body');
  const list = new EventList();
  const done = (): Delivery => ({ source: 'github', deliveryId, events: list.events, ignored: list.ignored });

  if (!PACKAGE_EVENTS.has(name)) {
    list.ignore(name === 'ping' ? 'ping' : `event ${name.slice(0, 40)}, not package`);
    return done();
  }
  const action = string(body.action, 'action');
  const pkg = object(body[name], name);
  const packageType = string(pkg.package_type, `${name}.package_type`);
  const owner = string(object(pkg.owner, `${name}.owner`).login, `${name}.owner.login`);
  const pkgName = string(pkg.name, `${name}.name`);
  if (packageType.toLowerCase() !== 'container') {
    list.ignore(`${packageType.slice(0, 20)} package, not a container`);
    return done();
  }
  // GHCR names are lower case; GitHub logins and package names may not be.
  const repository = repositoryName(`${owner}/${pkgName}`.toLowerCase(), `${name}.owner.login and ${name}.name`);
  const version = object(pkg.package_version, `${name}.package_version`);
  const metadata = optionalObject(version.container_metadata, `${name}.package_version.container_metadata`);
  const tag = optionalString(optionalObject(metadata?.tag, `${name}.package_version.container_metadata.tag`)?.name, `${name}.package_version.container_metadata.tag.name`);
  if (!PUSH_ACTIONS.has(action)) {
    list.ignore(`action ${action.slice(0, 40)}`, repository, tag === '' ? undefined : tag);
    return done();
  }
  if (tag === undefined || tag === '') {
    list.ignore('version without a tag (a platform manifest or a push by digest)', repository);
    return done();
  }
  list.push({ registry: 'ghcr.io', repository, tag }, `${name}.package_version.container_metadata.tag.name`);
  return done();
}
