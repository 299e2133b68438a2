// The poller (agent/webhooks/poller.ts) on a fake clock, over the real intake
// and engine (FakeDocker, in-memory router, SQLite in memory) with a fake
// registry: what an operator sees is the delivery rows, the deploys and the
// release served; the clock shows when the registry is asked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startPoller, type PollClock, type Poller } from '../../../agent/webhooks/poller.js';
import { createWebhookIntake, type WebhookIntakeService } from '../../../agent/webhooks/intake.js';
import type { TagLookup } from '../../../agent/registry/resolve.js';
import { RegistryError } from '../../../shared/errors.js';
import { startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const SERVING = digest('a'); // unit-engine's IMAGE
const quiet = { info() {}, warn() {}, error() {} };
const MINUTE = 60_000;

class FakeClock implements PollClock {
  nowMs = 1_000_000;
  timers: Array<{ at: number; fn: () => void }> = [];
  now() {
    return this.nowMs;
  }
  after(ms: number, fn: () => void) {
    const t = { at: this.nowMs + ms, fn };
    this.timers.push(t);
    return () => {
      this.timers = this.timers.filter((x) => x !== t);
    };
  }
}

interface Rig {
  u: UnitEngine;
  clock: FakeClock;
  intake: WebhookIntakeService;
  poller: Poller;
  /** What the fake registry answers for `main`: a digest, or an error to throw. */
  answer: { digest?: string; error?: Error };
  lookups: Array<TagLookup & { at: number }>;
  /** The repository's tags and their digests, for glob and range policies (the lookup of any other tag answers `answer`). */
  repo: Map<string, string>;
}

async function rig(policy: Record<string, unknown> = { tag: 'main', poll: 60 }): Promise<Rig> {
  const u = await startUnitEngine();
  await u.deploy(u.manifest('v1', { auto_deploy: policy }));
  const clock = new FakeClock();
  const answer: Rig['answer'] = { digest: SERVING };
  const lookups: Rig['lookups'] = [];
  const repo = new Map<string, string>();
  const resolve = async (l: TagLookup) => {
    lookups.push({ ...l, at: clock.nowMs });
    if (answer.error) throw answer.error;
    return { digest: repo.get(l.tag) ?? answer.digest! };
  };
  const listTags = async () => {
    if (answer.error) throw answer.error;
    return [...repo.keys()];
  };
  const intake = createWebhookIntake({ store: u.store, engine: u.engine, log: quiet, resolve, listTags });
  const poller = startPoller({ store: u.store, intake, agentId: 'agent-1', log: quiet, resolve, listTags, clock });
  return { u, clock, intake, poller, answer, lookups, repo };
}

/** Fires the next timer, then waits for the lookup and whatever the intake started. */
async function step(r: Rig): Promise<number> {
  const next = [...r.clock.timers].sort((a, b) => a.at - b.at)[0];
  assert.ok(next, 'a poll is scheduled');
  const waited = next.at - r.clock.nowMs;
  r.clock.nowMs = next.at;
  r.clock.timers = r.clock.timers.filter((t) => t !== next);
  next.fn();
  await r.poller.idle();
  await r.intake.idle();
  return waited;
}

const rows = (r: Rig) => r.u.store.webhooks.list('app', '', 200);
const webhookDeploys = (r: Rig) => r.u.store.dump().deploys!.filter((d) => (d as { trigger: string }).trigger === 'webhook');

describe('poller', () => {
  it('asks the registry once per interval (within its jitter) and writes nothing while the tag stays put', async () => {
    const r = await rig();
    assert.deepEqual(r.poller.watched().map((w) => [w.target.service, w.tag, w.intervalMs]), [['app', 'main', MINUTE]]);
    const waits = [];
    for (let i = 0; i < 5; i += 1) waits.push(await step(r));
    assert.equal(r.lookups.length, 5);
    assert.equal(r.lookups[0]?.image, r.u.store.current('app', '')!.image.replace(/@.*/, '') + `@${SERVING}`);
    for (const w of waits) assert.ok(w >= 0.9 * MINUTE && w <= 1.1 * MINUTE, `waited ${w} ms`);
    assert.equal(new Set(waits).size, 1, 'the same offset every time for this agent and service');
    assert.deepEqual(rows(r), []);
    assert.deepEqual(webhookDeploys(r), []);
    r.poller.stop();
  });

  it('a moved tag deploys its digest once, through the intake, recorded as a poll delivery', async () => {
    const r = await rig();
    await step(r);
    r.answer.digest = digest('b');
    await step(r);
    const [row] = rows(r);
    assert.deepEqual([row?.source, row?.outcome, row?.tag, row?.digest], ['poll', 'deployed', 'main', digest('b')], row?.reason);
    const d = r.u.store.getDeploy(row!.deploy_id!)!;
    assert.deepEqual([d.state, d.trigger, d.key_id, d.version], ['DONE', 'webhook', 'webhook:poll', `main-${'b'.repeat(12)}`]);
    assert.equal(r.u.store.current('app', '')?.image, `registry.test/app@${digest('b')}`);
    // Serving the new digest now: later polls are quiet again, and the derived release keeps polling.
    for (let i = 0; i < 3; i += 1) await step(r);
    assert.equal(rows(r).length, 1);
    assert.equal(webhookDeploys(r).length, 1);
    assert.equal(r.poller.watched().length, 1);
    r.poller.stop();
  });

  it('backs off on registry errors, records only the first of a streak, and honours Retry-After on 429', async () => {
    const r = await rig();
    const base = await step(r);
    r.answer.error = new RegistryError('registry_unavailable', 502, 'registry.test answered 503', undefined, { status: 503 });
    await step(r); // the first failure
    // Then one interval, two, four (each with the pair's jitter; rounding aside).
    const backoff = [await step(r), await step(r), await step(r)];
    backoff.forEach((w, i) => assert.ok(Math.abs(w - 2 ** i * base) <= 1, `wait ${i}: ${w} ms, base ${base} ms`));
    assert.deepEqual(rows(r).map((x) => [x.source, x.outcome]), [['poll', 'failed']]);
    assert.match(rows(r)[0]!.reason, /registry lookup of tag main: registry.test answered 503/);
    // Recovery resets the streak; the 429 that follows waits as long as the registry asked.
    r.answer.error = undefined;
    await step(r);
    assert.equal(await step(r), base);
    r.answer.error = new RegistryError('registry_unavailable', 502, 'slow down', undefined, { status: 429, retryAfterMs: 3 * 60 * MINUTE });
    await step(r);
    assert.equal(await step(r), 3 * 60 * MINUTE);
    assert.equal(rows(r).length, 2, 'a new streak, one more row');
    assert.deepEqual(webhookDeploys(r), []);
    r.poller.stop();
  });

  it('stops polling when a later release drops poll, and starts when one adds it', async () => {
    const r = await rig();
    await step(r);
    await r.u.deploy(r.u.manifest('v2', { auto_deploy: { tag: 'main', sources: [{ name: 'dockerhub' }] } }));
    assert.deepEqual(r.poller.watched(), []);
    assert.deepEqual(r.clock.timers, []);
    await r.u.deploy(r.u.manifest('v3', { auto_deploy: { tag: 'main', poll: 120 } }));
    assert.deepEqual(r.poller.watched().map((w) => w.intervalMs), [2 * MINUTE]);
    r.poller.stop();
    assert.deepEqual(r.clock.timers, []);
  });

  it('a digest whose deploy failed is not handed on again until the tag moves', async () => {
    const r = await rig();
    r.answer.digest = digest('c');
    r.u.docker.health = () => ({ ok: false, detail: 'HTTP 500' });
    await step(r);
    const [row] = rows(r);
    assert.equal(row?.outcome, 'deployed');
    assert.notEqual(r.u.store.getDeploy(row!.deploy_id!)?.state, 'DONE');
    for (let i = 0; i < 3; i += 1) await step(r);
    assert.equal(rows(r).length, 1);
    assert.equal(webhookDeploys(r).length, 1);
    r.poller.stop();
  });

  it('a range policy is polled: each look lists the tags and follows the highest match', async () => {
    const r = await rig({ tag: '~1.4', poll: 60 });
    assert.deepEqual(r.poller.watched().map((w) => w.tag), ['~1.4']);
    r.repo.set('1.4.1', SERVING);
    r.repo.set('1.5.0', digest('5'));
    await step(r);
    assert.deepEqual(r.lookups.map((l) => l.tag), ['1.4.1']);
    assert.deepEqual(rows(r), [], 'serving the highest match: quiet');
    // A newer match appears: deployed once, then quiet again.
    r.repo.set('1.4.3', digest('3'));
    await step(r);
    const [row] = rows(r);
    assert.deepEqual([row?.source, row?.outcome, row?.tag, row?.digest], ['poll', 'deployed', '1.4.3', digest('3')], row?.reason);
    assert.equal(r.u.store.getDeploy(row!.deploy_id!)?.version, `1.4.3-${'3'.repeat(12)}`);
    for (let i = 0; i < 3; i += 1) await step(r);
    assert.equal(rows(r).length, 1);
    assert.equal(webhookDeploys(r).length, 1);
    r.poller.stop();
  });

  it('a glob policy with no matching tag writes one ignored row, then polls quietly until one appears', async () => {
    const r = await rig({ tag: 'v*', poll: 60 });
    r.repo.set('main', digest('9'));
    for (let i = 0; i < 3; i += 1) await step(r);
    assert.deepEqual(rows(r).map((x) => [x.source, x.outcome, x.tag, x.reason]), [['poll', 'ignored', 'v*', 'no tag in the registry matches v*']]);
    assert.equal(r.lookups.length, 0);
    r.repo.set('v2.0.0', digest('2'));
    r.repo.set('v10.0.0', digest('7'));
    await step(r);
    assert.deepEqual([rows(r)[0]?.outcome, rows(r)[0]?.tag, rows(r)[0]?.digest], ['deployed', 'v10.0.0', digest('7')]);
    r.answer.error = new RegistryError('upstream_failed', 502, 'registry.test answered 503', undefined, { status: 503 });
    await step(r);
    await step(r);
    assert.deepEqual(rows(r).slice(0, 1).map((x) => [x.outcome, x.tag]), [['failed', 'v*']]);
    assert.match(rows(r)[0]!.reason, /registry listing of the tags matching v\*: registry.test answered 503/);
    assert.equal(rows(r).length, 3);
    r.poller.stop();
  });
});
