// The poller: for registries that send no webhooks, the agent asks on its own
// where each polled tag points, on the schedule agent/core/poll-schedule.ts
// keeps (stable jitter per agent and service, backoff, Retry-After). A lookup
// is a HEAD (after listing the tags, for a glob or range: the highest match is
// the tag followed): nothing is pulled unless the digest differs from the one
// serving, and then the tag goes through the webhook intake like a delivery
// (source `poll`), which checks everything again. Rows are written only for a
// change, the first error of a streak, and the first look that finds no
// matching tag, so a quiet tag costs no table churn. Policies are read from
// the CURRENT release of each service in this agent's store, again whenever a
// deploy ends.
import type { DeployRecord } from '../../shared/api-types.js';
import { isFinalDeployState } from '../../shared/api-types.js';
import { parseImageReference } from '../../shared/image-reference.js';
import { parseTagPattern, pickTag } from '../../shared/tag-pattern.js';
import { nextPoll, pollOutcome, type PollOutcome } from '../core/poll-schedule.js';
import type { Logger } from '../log.js';
import { resolveTagDigest } from '../registry/resolve.js';
import { listTags } from '../registry/tags.js';
import type { Store } from '../store/index.js';
import type { WebhookIntakeService } from './intake.js';
import type { ListTags, OpenRegistryCredentials, Resolve } from './tag-push.js';
import type { WebhookTarget } from './types.js';

/** Where the poller keeps time; real timers (unref'd) unless a test drives a fake clock. */
export interface PollClock {
  now(): number;
  /** Calls `fn` after `ms`; returns the cancel. */
  after(ms: number, fn: () => void): () => void;
}

export interface PollerDeps {
  store: Store;
  intake: Pick<WebhookIntakeService, 'polled'>;
  agentId: string;
  log: Logger;
  resolve?: Resolve;
  listTags?: ListTags;
  openRegistryCredentials?: OpenRegistryCredentials;
  /** Multiplies every policy interval: 1 in production, smaller only under BERTH_TEST_POLL_SCALE. */
  scale?: number;
  clock?: PollClock;
}

export interface Poller {
  /** Re-reads the policies of every service (called on each deploy's end; cheap). */
  refresh(): void;
  /** Cancels every timer; a lookup under way finishes and hands nothing on. */
  stop(): void;
  /** Resolves when no lookup runs (tests). */
  idle(): Promise<void>;
  /** The services polled now, with their tag and interval (tests). */
  watched(): Array<{ target: WebhookTarget; tag: string; intervalMs: number }>;
}

interface Watch {
  target: WebhookTarget;
  /** The policy's tag: an exact tag, a glob or a range. */
  tag: string;
  intervalMs: number;
  cancel?: (() => void) | undefined;
  /** Failed lookups in a row; only the first of a streak is recorded. */
  failures: number;
  /** The last tag handed to the intake, so a digest it is working on (or gave up on for now) is not handed every interval. */
  handed?: { digest: string; baseDeployId: number; deliveryId: string } | undefined;
  /** Hand-offs of one digest that came back failed or ignored: they back off like errors. */
  retries: number;
  /** The last listing found no tag matching the pattern (recorded once until one appears). */
  unmatched: boolean;
}

const realClock: PollClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

const keyOf = (t: WebhookTarget) => `${t.service}\u0000${t.destination}`;
const BUSY_OUTCOMES = new Set(['queued', 'deployed', 'already_serving']);

export function startPoller(deps: PollerDeps): Poller {
  const { store, log } = deps;
  const clock = deps.clock ?? realClock;
  const resolve = deps.resolve ?? resolveTagDigest;
  const list = deps.listTags ?? listTags;
  const scale = deps.scale ?? 1;
  const watches = new Map<string, Watch>();
  const running = new Set<Promise<void>>();
  let stopped = false;

  function schedule(w: Watch, outcome: PollOutcome, failures: number): void {
    w.cancel?.();
    const { delayMs } = nextPoll({
      intervalMs: w.intervalMs, agentId: deps.agentId, service: keyOf(w.target), outcome, consecutiveFailures: failures, nowMs: clock.now(),
    });
    w.cancel = clock.after(delayMs, () => {
      w.cancel = undefined;
      if (stopped || watches.get(keyOf(w.target)) !== w) return;
      const p: Promise<void> = poll(w).catch((e: unknown) => {
        // Errors of the store: logged, and the next look backs off.
        log.error('poll failed', { service: w.target.service, error: e instanceof Error ? e.message : String(e) });
        if (!stopped) schedule(w, { kind: 'error' }, ++w.failures);
      }).finally(() => running.delete(p));
      running.add(p);
    });
  }

  async function poll(w: Watch): Promise<void> {
    const { service, destination } = w.target;
    const current = store.current(service, destination);
    const release = current ? store.getRelease(current.deploy_id) : undefined;
    const policy = release?.payload.auto_deploy;
    if (!current || !release || !policy?.poll || policy.tag !== w.tag) return refresh();
    // A deploy under way decides what serves next; look again after it.
    const latest = store.latestDeploy(service, destination);
    if (latest && !isFinalDeployState(latest.state)) return schedule(w, { kind: 'ok' }, 0);

    const credentials = await deps.openRegistryCredentials?.(release.payload);
    const pattern = parseTagPattern(w.tag);
    let tag = w.tag;
    let digest: string | undefined;
    let asked = `listing of the tags matching ${w.tag}`;
    try {
      const picked = pattern.kind === 'exact' ? w.tag : pickTag(pattern, await list({ image: release.payload.image, credentials }));
      if (picked !== undefined) {
        tag = picked;
        asked = `lookup of tag ${tag}${pattern.kind === 'exact' ? '' : ` (the highest tag matching ${w.tag})`}`;
        ({ digest } = await resolve({ image: release.payload.image, tag, credentials }));
      }
    } catch (e) {
      if (stopped) return;
      w.failures += 1;
      if (w.failures === 1) {
        const why = e instanceof Error ? e.message : String(e);
        const reason = credentials?.password ? why.split(credentials.password).join('[redacted]') : why;
        store.webhooks.record({ service, destination, source: 'poll', outcome: 'failed', tag, reason: `registry ${asked}: ${reason}` });
        log.warn('poll: registry lookup failed; backing off', { service, destination, tag, error: reason });
      }
      return schedule(w, pollOutcome(e), w.failures);
    }
    if (stopped) return;
    if (digest === undefined) return unmatched(w);
    w.failures = 0;
    w.unmatched = false;
    const ref = parseImageReference(release.payload.image);
    const quiet = parseImageReference(current.image).digest === digest
      // A digest that failed is not retried until the tag moves; its deploy already says why.
      || store.webhooks.failedBefore(service, destination, `${ref.name}@${digest}`) !== undefined;
    if (quiet) {
      w.retries = 0;
      return schedule(w, { kind: 'ok' }, 0);
    }
    const same = w.handed && w.handed.digest === digest && w.handed.baseDeployId === current.deploy_id;
    const earlier = same && w.handed ? store.webhooks.get(w.handed.deliveryId) : undefined;
    if (earlier && BUSY_OUTCOMES.has(earlier.outcome)) return schedule(w, { kind: 'ok' }, 0);
    // Handed before and refused for now (a lock, a lookup error): again, but less and less often.
    w.retries = same ? w.retries + 1 : 0;
    const { deliveryId } = deps.intake.polled(w.target, tag);
    w.handed = { digest, baseDeployId: current.deploy_id, deliveryId };
    log.info('poll: tag moved', { service, destination, tag, digest, delivery: deliveryId });
    schedule(w, w.retries > 0 ? { kind: 'error' } : { kind: 'ok' }, w.retries);
  }

  /** No tag matches the glob or range (yet): one ignored row, then quiet polls until one appears. */
  function unmatched(w: Watch): void {
    w.failures = 0;
    if (!w.unmatched) {
      w.unmatched = true;
      store.webhooks.record({ ...w.target, source: 'poll', outcome: 'ignored', tag: w.tag, reason: `no tag in the registry matches ${w.tag}` });
    }
    schedule(w, { kind: 'ok' }, 0);
  }

  function refresh(): void {
    if (stopped) return;
    const wanted = new Set<string>();
    for (const s of store.services()) {
      if (!s.current) continue;
      const target = { service: s.name, destination: s.destination };
      const policy = store.getRelease(s.current.deploy_id)?.payload.auto_deploy;
      if (!policy?.poll) continue;
      const key = keyOf(target);
      wanted.add(key);
      const intervalMs = Math.max(1, Math.round(policy.poll * 1000 * scale));
      const w = watches.get(key);
      if (w && w.tag === policy.tag && w.intervalMs === intervalMs) continue;
      if (w) w.cancel?.();
      const fresh: Watch = { target, tag: policy.tag, intervalMs, failures: 0, retries: 0, unmatched: false };
      watches.set(key, fresh);
      schedule(fresh, { kind: 'ok' }, 0);
    }
    for (const [key, w] of watches) {
      if (wanted.has(key)) continue;
      w.cancel?.();
      watches.delete(key);
    }
  }

  // A listener's throw would reach the deploy that emitted 'final': logged here instead.
  const onFinal = (_r: DeployRecord) => {
    try {
      refresh();
    } catch (e) {
      log.error('poll: reading the policies failed', { error: e instanceof Error ? e.message : String(e) });
    }
  };
  store.bus.on('final', onFinal);
  refresh();

  return {
    refresh,
    stop() {
      stopped = true;
      store.bus.off('final', onFinal);
      for (const w of watches.values()) w.cancel?.();
      watches.clear();
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running]);
    },
    watched: () => [...watches.values()].map((w) => ({ target: w.target, tag: w.tag, intervalMs: w.intervalMs })),
  };
}
