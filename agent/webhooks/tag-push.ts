// One verified tag push, judged against the CURRENT release of the service:
// its signed auto_deploy policy decides whether the push counts, the registry
// (never the payload) says which digest the tag names (and for a glob or a
// range, which tag: the highest match it lists), and a derived release
// pinned to that digest goes through the normal engine. A webhook is a hint:
// every check here is made again on each delivery, from the store.
import { isFinalDeployState } from '../../shared/api-types.js';
import { parseImageReference } from '../../shared/image-reference.js';
import { isValidVersion, type ManifestPayload } from '../../shared/manifest.js';
import type { RegistryCredentials } from '../../shared/registry/auth.js';
import { matchesTag, parseTagPattern, pickTag } from '../../shared/tag-pattern.js';
import type { TagPush } from '../core/webhooks/index.js';
import type { TagLookup } from '../registry/resolve.js';
import type { TagsListing } from '../registry/tags.js';
import type { Store } from '../store/index.js';
import type { DeliveryOutcome, DeliverySource, WebhookTarget } from './types.js';

export type Resolve = (l: TagLookup) => Promise<{ digest: string }>;
export type ListTags = (l: TagsListing) => Promise<string[]>;
export type OpenRegistryCredentials = (payload: ManifestPayload) => Promise<RegistryCredentials | undefined>;

export interface PushResult {
  outcome: Exclude<DeliveryOutcome, 'queued' | 'refused'>;
  reason: string;
  digest?: string;
  deployId?: number;
}

export interface PushContext {
  store: Store;
  resolve: Resolve;
  listTags: ListTags;
  openRegistryCredentials?: OpenRegistryCredentials | undefined;
  /** Resolves once deploy `id` is final (or the wait is given up). */
  waitFinal(deployId: number): Promise<boolean>;
  /** Starts the engine on a deploy holding the lock; resolves when it is final. */
  run(deployId: number): Promise<void>;
  /** Records the delivery's outcome so far (deployed is recorded before the deploy runs). */
  progress(r: PushResult): void;
}

const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
// Each attempt either waits for a deploy to end or sees the service move; a
// service that keeps changing under a delivery gets a failed row, not a loop.
const MAX_ATTEMPTS = 5;

const registryKey = (host: string) => (DOCKER_HUB.has(host.toLowerCase()) ? 'docker.io' : host.toLowerCase());

/** Whether the push names the manifest image's repository (and registry, when it names one). */
export function tracksRepository(image: string, push: TagPush): boolean {
  const ref = parseImageReference(image);
  if (push.registry !== undefined && registryKey(push.registry) !== registryKey(ref.registry)) return false;
  const hub = registryKey(ref.registry) === 'docker.io';
  const repository = hub && !push.repository.includes('/') ? `library/${push.repository}` : push.repository;
  return repository === ref.repository;
}

/** `<tag>-<12 hex of the digest>`, cut to the manifest's 128 characters; `webhook-…` for a tag no version may start with. */
export function derivedVersion(tag: string, digest: string): string {
  const hex = digest.replace(/^sha256:/, '').slice(0, 12);
  const version = `${tag.slice(0, 115)}-${hex}`;
  return isValidVersion(version) ? version : `webhook-${hex}`;
}

function scrub(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

export async function handleTagPush(
  ctx: PushContext, target: WebhookTarget, source: DeliverySource, deliveryId: string, push: TagPush,
): Promise<PushResult> {
  const { store } = ctx;
  const { service, destination } = target;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const running = store.latestDeploy(service, destination);
    if (running && !isFinalDeployState(running.state)) {
      if (!(await ctx.waitFinal(running.id))) return { outcome: 'failed', reason: `deploy ${running.id} still holds the service` };
    }
    const current = store.current(service, destination);
    if (!current) return { outcome: 'ignored', reason: 'nothing deployed yet: a webhook only moves a service that serves' };
    // An operator stopped it on purpose: only they bring it back (deploy app start, deploy push).
    if (store.appState.get(service, destination).length > 0) return { outcome: 'ignored', reason: 'the app is stopped (deploy app stop); deploy app start or deploy push brings it back' };
    const release = store.getRelease(current.deploy_id);
    if (!release) return { outcome: 'failed', reason: `the release of deploy ${current.deploy_id} is missing` };
    const { payload } = release;
    const policy = payload.auto_deploy;
    if (!policy) return { outcome: 'ignored', reason: 'no auto_deploy policy' };
    if (source === 'poll' ? !policy.poll : !policy.sources?.some((s) => s.name === source)) {
      return { outcome: 'ignored', reason: source === 'poll' ? 'the auto_deploy policy does not poll' : `source ${source} is not in the auto_deploy policy` };
    }
    if (!tracksRepository(payload.image, push)) {
      return { outcome: 'ignored', reason: `untracked repository ${push.registry ? `${push.registry}/` : ''}${push.repository}` };
    }
    const pattern = parseTagPattern(policy.tag);
    if (!matchesTag(pattern, push.tag)) return { outcome: 'ignored', reason: `untracked tag ${push.tag} (policy: ${policy.tag})` };

    const credentials = await ctx.openRegistryCredentials?.(payload);
    // A glob or range follows its highest matching tag, whichever tag was pushed:
    // re-pushing an older match must not move the service back.
    let tag = push.tag;
    if (pattern.kind !== 'exact') {
      let tags: string[];
      try {
        tags = await ctx.listTags({ image: payload.image, credentials });
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return { outcome: 'failed', reason: scrub(`registry listing of the tags matching ${policy.tag}: ${why}`, credentials?.password) };
      }
      const picked = pickTag(pattern, tags);
      if (picked === undefined) return { outcome: 'ignored', reason: `no tag in the registry matches ${policy.tag} (${tags.length} tags listed)` };
      tag = picked;
    }
    const highest = tag === push.tag ? '' : ` (the highest tag matching ${policy.tag})`;
    let digest: string;
    try {
      ({ digest } = await ctx.resolve({ image: payload.image, tag, credentials }));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      return { outcome: 'failed', reason: scrub(`registry lookup of tag ${tag}${highest}: ${why}`, credentials?.password) };
    }
    const ref = parseImageReference(payload.image);
    if (parseImageReference(current.image).digest === digest) return { outcome: 'already_serving', reason: `${current.version} serves ${digest}${highest && `, named by ${tag}${highest}`}`, digest };
    const image = `${ref.name}@${digest}`;
    const failed = store.webhooks.failedBefore(service, destination, image);
    if (failed) {
      return { outcome: 'ignored', reason: `digest ${digest} failed before (deploy ${failed.id}); waiting for the tag to move`, digest };
    }
    const derived: ManifestPayload = { ...payload, image, version: derivedVersion(tag, digest) };
    // The operator's reason for the base release is not this release's.
    delete derived.trigger;
    const made = store.webhooks.deployWebhookRelease({
      baseDeployId: current.deploy_id, payload: derived, keyId: `webhook:${source}`, source, deliveryId, tag, digest,
    });
    switch (made.kind) {
      case 'deploying': {
        const result: PushResult = { outcome: 'deployed', reason: `release ${derived.version}${highest}`, digest, deployId: made.deploy.id };
        ctx.progress(result);
        await ctx.run(made.deploy.id);
        return result;
      }
      case 'busy':
        if (!(await ctx.waitFinal(made.deployId))) return { outcome: 'failed', reason: `deploy ${made.deployId} still holds the service`, digest };
        continue;
      case 'moved':
        continue;
      case 'locked':
        return { outcome: 'ignored', reason: made.why, digest };
      case 'conflict':
        return { outcome: 'failed', reason: made.why, digest };
    }
  }
  return { outcome: 'failed', reason: `the service kept changing; gave up after ${MAX_ATTEMPTS} looks` };
}
