// The webhook intake (agent/webhooks/types.ts): records each delivery at once
// and does the slow work after the ingress has answered. Per service and
// destination at most one job runs and at most ONE follow-up waits; a newer
// delivery replaces the waiting one, so a flood costs one row each and no
// memory beyond that one follow-up. Services do not wait for each other.
import type { DeployRecord } from '../../shared/api-types.js';
import { isFinalDeployState } from '../../shared/api-types.js';
import { parseImageReference } from '../../shared/image-reference.js';
import type { Delivery, TagPush } from '../core/webhooks/index.js';
import type { Engine } from '../engine/types.js';
import type { Logger } from '../log.js';
import { resolveTagDigest } from '../registry/resolve.js';
import { listTags } from '../registry/tags.js';
import type { Store } from '../store/index.js';
import { handleTagPush, type ListTags, type OpenRegistryCredentials, type PushResult, type Resolve } from './tag-push.js';
import type { DeliverySource, WebhookIntake, WebhookRefused, WebhookTarget } from './types.js';

export type { ListTags, OpenRegistryCredentials, Resolve } from './tag-push.js';

export interface WebhookIntakeDeps {
  store: Store;
  engine: Pick<Engine, 'run'>;
  /** The registry lookup; resolveTagDigest (agent/registry/resolve.ts) unless a test injects one. */
  resolve?: Resolve;
  /** The tag listing for glob and range policies; listTags (agent/registry/tags.ts) unless a test injects one. */
  listTags?: ListTags;
  /** Opens the release's sealed registry login (see registryCredentials in agent/webhooks/credentials.ts). */
  openRegistryCredentials?: OpenRegistryCredentials;
  log: Logger;
  /** How long a follow-up waits for a running deploy to end before it is recorded failed (default 1 hour). */
  waitLimitMs?: number;
}

export interface WebhookIntakeService extends WebhookIntake {
  /** The poller saw `tag` name a digest the service does not serve: recorded (source `poll`) and worked like a delivery. */
  polled(target: WebhookTarget, tag: string): { deliveryId: string };
  /** Resolves when no job runs or waits (tests; shutdown). */
  idle(): Promise<void>;
}

interface Job {
  deliveryId: string;
  source: DeliverySource;
  events: TagPush[];
}

interface Slot {
  pending: Job | null;
  done: Promise<void>;
}

const DEFAULT_WAIT_LIMIT_MS = 60 * 60 * 1000;
const RANK: Record<PushResult['outcome'], number> = { deployed: 4, failed: 3, already_serving: 2, ignored: 1 };

export function createWebhookIntake(deps: WebhookIntakeDeps): WebhookIntakeService {
  const { store, log } = deps;
  const resolve = deps.resolve ?? resolveTagDigest;
  const list = deps.listTags ?? listTags;
  const waitLimitMs = deps.waitLimitMs ?? DEFAULT_WAIT_LIMIT_MS;
  const slots = new Map<string, Slot>();
  const keyOf = (t: WebhookTarget) => `${t.service}\u0000${t.destination}`;

  function waitFinal(deployId: number): Promise<boolean> {
    return new Promise((settle) => {
      const end = (ok: boolean) => {
        store.bus.off('final', onFinal);
        clearTimeout(timer);
        settle(ok);
      };
      const onFinal = (r: DeployRecord) => {
        if (r.id === deployId) end(true);
      };
      const timer = setTimeout(() => end(false), waitLimitMs);
      timer.unref();
      store.bus.on('final', onFinal);
      // It may have ended before we listened.
      const d = store.getDeploy(deployId);
      if (!d || isFinalDeployState(d.state)) end(true);
    });
  }

  async function work(target: WebhookTarget, job: Job): Promise<void> {
    let best: PushResult | undefined;
    const notes: string[] = [];
    const record = (r: PushResult, tag: string) => {
      if (!best || RANK[r.outcome] > RANK[best.outcome]) best = r;
      store.webhooks.update(job.deliveryId, {
        outcome: best.outcome,
        reason: [best.reason, ...notes.filter((n) => n !== best?.reason)].join('; '),
        tag,
        digest: best.digest ?? null,
        deployId: best.deployId ?? null,
      });
    };
    for (const push of job.events) {
      try {
        const result = await handleTagPush(
          {
            store, resolve, listTags: list, openRegistryCredentials: deps.openRegistryCredentials, waitFinal,
            run: (id) => deps.engine.run(id),
            progress: (r) => record(r, push.tag),
          },
          target, job.source, job.deliveryId, push,
        );
        if (result.outcome !== 'deployed') notes.push(result.reason);
        record(result, push.tag);
      } catch (e) {
        // Errors of the store or the engine: recorded, never thrown out of the intake.
        const why = e instanceof Error ? e.message : String(e);
        log.error('webhook delivery failed', { delivery: job.deliveryId, service: target.service, error: why });
        notes.push(why);
        record({ outcome: 'failed', reason: why }, push.tag);
      }
    }
  }

  async function drain(target: WebhookTarget, slot: Slot, first: Job): Promise<void> {
    let job: Job | null = first;
    while (job) {
      try {
        await work(target, job);
      } catch (e) {
        log.error('webhook intake', { service: target.service, error: e instanceof Error ? e.message : String(e) });
      }
      job = slot.pending;
      slot.pending = null;
    }
    slots.delete(keyOf(target));
  }

  function schedule(target: WebhookTarget, job: Job): void {
    const key = keyOf(target);
    const slot = slots.get(key);
    if (slot) {
      if (slot.pending) store.webhooks.update(slot.pending.deliveryId, { outcome: 'ignored', reason: `superseded by ${job.deliveryId}` });
      slot.pending = job;
      return;
    }
    const fresh: Slot = { pending: null, done: Promise.resolve() };
    slots.set(key, fresh);
    // Started on the next turn, so the ingress answers before any work begins.
    fresh.done = new Promise<void>((r) => setImmediate(r)).then(() => drain(target, fresh, job));
  }

  return {
    accepted(target, delivery: Delivery) {
      const senderDeliveryId = delivery.deliveryId ?? delivery.events[0]?.eventId;
      const base = { service: target.service, destination: target.destination, source: delivery.source, senderDeliveryId, tag: delivery.events[0]?.tag };
      const earlier = senderDeliveryId === undefined
        ? undefined
        : store.webhooks.findSent({ service: target.service, destination: target.destination, source: delivery.source, senderDeliveryId });
      if (earlier) return { deliveryId: store.webhooks.record({ ...base, outcome: 'ignored', reason: `duplicate of ${earlier.id}` }).id };
      if (delivery.events.length === 0) {
        const reason = delivery.ignored.map((i) => i.reason).join('; ') || 'no tag push in the delivery';
        return { deliveryId: store.webhooks.record({ ...base, outcome: 'ignored', reason, tag: delivery.ignored[0]?.tag }).id };
      }
      const row = store.webhooks.record({ ...base, outcome: 'queued' });
      schedule(target, { deliveryId: row.id, source: delivery.source, events: delivery.events });
      return { deliveryId: row.id };
    },

    refused(target, source, refusal: WebhookRefused) {
      const reason = `${refusal.status} ${refusal.code}: ${refusal.reason}`;
      return { deliveryId: store.webhooks.record({ service: target.service, destination: target.destination, source, outcome: 'refused', reason }).id };
    },

    polled(target, tag) {
      // The repository is the manifest's own: the poller asked about that image, so the push names it.
      const row = store.webhooks.record({ service: target.service, destination: target.destination, source: 'poll', outcome: 'queued', tag });
      const image = store.current(target.service, target.destination)?.image;
      const ref = image ? parseImageReference(image) : undefined;
      const push: TagPush = { registry: ref?.registry, repository: ref?.repository ?? '', tag };
      schedule(target, { deliveryId: row.id, source: 'poll', events: [push] });
      return { deliveryId: row.id };
    },

    async idle() {
      while (slots.size > 0) await Promise.all([...slots.values()].map((s) => s.done));
    },
  };
}
