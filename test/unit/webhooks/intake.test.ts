// The webhook intake (agent/webhooks/intake.ts) over the real engine with a
// FakeDocker, the in-memory router and SQLite in memory; the registry is a
// fake resolver. Asserts what an operator sees: delivery rows and outcomes,
// the release served, `deploy releases` and audit rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWebhookIntake, type WebhookIntakeService } from '../../../agent/webhooks/intake.js';
import type { Delivery, TagPush } from '../../../agent/core/webhooks/index.js';
import type { TagLookup } from '../../../agent/registry/resolve.js';
import { RegistryError } from '../../../shared/errors.js';
import { startUnitEngine, type UnitEngine } from '../../support/unit-engine.js';

const TARGET = { service: 'app', destination: '' };
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const SERVING = digest('a'); // unit-engine's IMAGE
const POLICY = { tag: 'main', sources: [{ name: 'dockerhub' }] };
const quiet = { info() {}, warn() {}, error() {} };

function push(over: Partial<TagPush> = {}): TagPush {
  return { registry: 'registry.test', repository: 'app', tag: 'main', ...over };
}
let sent = 0;
function delivery(events: TagPush[] = [push()], deliveryId: string | undefined = `d${++sent}`): Delivery {
  return { source: 'dockerhub', ...(deliveryId === undefined ? {} : { deliveryId }), events, ignored: [] };
}

interface Rig {
  u: UnitEngine;
  intake: WebhookIntakeService;
  /** What the fake registry says each tag names; a function may throw. */
  tags: Map<string, string | (() => never)>;
  lookups: TagLookup[];
  /** Tag listings asked for (glob and range policies); the listing is the keys of `tags`. */
  listings: number;
}

async function rig(over: Record<string, unknown> = { auto_deploy: POLICY }): Promise<Rig> {
  const u = await startUnitEngine();
  await u.deploy(u.manifest('v1', over));
  const tags = new Map<string, string | (() => never)>([['main', digest('b')]]);
  const lookups: TagLookup[] = [];
  const r = { tags, lookups, listings: 0 };
  const intake = createWebhookIntake({
    store: u.store,
    engine: u.engine,
    log: quiet,
    resolve: async (l) => {
      lookups.push(l);
      const d = tags.get(l.tag);
      if (d === undefined) throw new RegistryError('registry_not_found', 502, `tag ${l.tag} not found`, undefined, { status: 404 });
      return { digest: typeof d === 'function' ? d() : d };
    },
    listTags: async () => {
      r.listings += 1;
      return [...tags.keys()];
    },
    openRegistryCredentials: async () => ({ username: 'ci', password: 'hunter2-registry-password' }),
  });
  return { u, intake, ...r, get listings() { return r.listings; } };
}

async function deliver(r: Rig, d: Delivery = delivery()) {
  const { deliveryId } = r.intake.accepted(TARGET, d);
  await r.intake.idle();
  const row = r.u.store.webhooks.get(deliveryId);
  assert.ok(row, `delivery ${deliveryId} recorded`);
  return row;
}

const webhookDeploys = (r: Rig) => r.u.store.dump().deploys!.filter((d) => (d as { trigger: string }).trigger === 'webhook');

describe('webhook intake', () => {
  it('deploys the digest the registry names as a release derived from the current one', async () => {
    const r = await rig();
    const v1 = r.u.store.current('app', '')!;
    const row = await deliver(r);
    assert.equal(row.outcome, 'deployed', row.reason);
    assert.equal(row.digest, digest('b'));
    assert.equal(r.lookups[0]?.credentials?.username, 'ci');
    const d = r.u.store.getDeploy(row.deploy_id!)!;
    assert.deepEqual([d.state, d.trigger, d.derived_from, d.key_id], ['DONE', 'webhook', v1.deploy_id, 'webhook:dockerhub']);
    assert.equal(d.version, `main-${'b'.repeat(12)}`);
    assert.equal(d.image, `registry.test/app@${digest('b')}`);
    assert.equal(d.seq, v1.seq, 'no new signed seq');
    assert.equal(r.u.store.seq('app', ''), v1.seq);
    assert.equal(r.u.store.current('app', '')?.deploy_id, d.id);
    assert.equal(r.u.routedTo(), `${r.u.docker.byName(r.u.containerName(d.version))?.ip}:80`);
    // Only the image and version differ from the signed payload; the policy travels on.
    const base = r.u.store.getRelease(v1.deploy_id)!;
    const made = r.u.store.getRelease(d.id)!;
    assert.equal(made.jws, base.jws);
    assert.deepEqual({ ...made.payload, image: base.payload.image, version: base.payload.version }, base.payload);
    const audit = r.u.store.audit.list({ service: 'app', limit: 50 }).find((e) => e.action === 'webhook.deploy');
    assert.equal(audit?.key_id, 'webhook:dockerhub');
    assert.deepEqual(audit?.detail, {
      delivery: row.id, source: 'dockerhub', tag: 'main', digest: digest('b'), version: d.version, deploy: d.id, derived_from: v1.deploy_id,
    });
    const history = r.u.store.releaseHistory('app', '');
    assert.deepEqual(history.map((h) => [h.version, h.trigger, h.current]), [[d.version, 'webhook', true], ['v1', 'push', false]]);
    assert.equal(r.u.store.storedRelease('app', '', d.version)?.image, d.image, 'rollback can find it');
  });

  it('records already_serving when the registry names the digest that serves', async () => {
    const r = await rig();
    r.tags.set('main', SERVING);
    const row = await deliver(r);
    assert.equal(row.outcome, 'already_serving');
    assert.equal(webhookDeploys(r).length, 0);
  });

  it('ignores untracked repositories and tags, and services without a policy, without asking the registry', async () => {
    const r = await rig();
    assert.match((await deliver(r, delivery([push({ repository: 'other' })]))).reason, /untracked repository registry.test\/other/);
    assert.match((await deliver(r, delivery([push({ registry: 'ghcr.io' })]))).reason, /untracked repository/);
    const tag = await deliver(r, delivery([push({ tag: 'dev' })]));
    assert.deepEqual([tag.outcome, tag.tag], ['ignored', 'dev']);
    assert.match(tag.reason, /untracked tag dev/);
    assert.equal(r.lookups.length, 0);

    const bare = await rig({});
    const none = await deliver(bare);
    assert.deepEqual([none.outcome, none.reason], ['ignored', 'no auto_deploy policy']);
    assert.equal(bare.lookups.length, 0);
  });

  it('a poll counts only when the current policy polls, and then deploys like a delivery (source poll)', async () => {
    const r = await rig();
    const refused = r.intake.polled(TARGET, 'main');
    await r.intake.idle();
    const row = r.u.store.webhooks.get(refused.deliveryId)!;
    assert.deepEqual([row.source, row.outcome, row.reason], ['poll', 'ignored', 'the auto_deploy policy does not poll']);
    assert.equal(r.lookups.length, 0);

    const polled = await rig({ auto_deploy: { tag: 'main', poll: 60 } });
    const { deliveryId } = polled.intake.polled(TARGET, 'main');
    await polled.intake.idle();
    const done = polled.u.store.webhooks.get(deliveryId)!;
    assert.deepEqual([done.source, done.outcome, done.digest], ['poll', 'deployed', digest('b')], done.reason);
    assert.equal(polled.u.store.getDeploy(done.deploy_id!)?.key_id, 'webhook:poll');
    assert.equal(polled.lookups[0]?.image, polled.u.store.getRelease(done.deploy_id!)?.payload.image.replace(/@.*/, '') + `@${SERVING}`);
  });

  it('records a resent delivery as a duplicate and does nothing for it', async () => {
    const r = await rig();
    const first = await deliver(r, delivery([push()], 'same-id'));
    const again = await deliver(r, delivery([push()], 'same-id'));
    assert.equal(first.outcome, 'deployed');
    assert.deepEqual([again.outcome, again.reason], ['ignored', `duplicate of ${first.id}`]);
    assert.equal(r.lookups.length, 1);
    assert.equal(webhookDeploys(r).length, 1);
  });

  it('a digest whose deploy failed its health check is reverted and not tried again until the tag moves', async () => {
    const r = await rig();
    const bad = `main-${'b'.repeat(12)}`;
    r.u.docker.health = (c) => (c.name.includes(bad) ? { ok: false, detail: 'HTTP 500' } : { ok: true, detail: 'HTTP 200' });
    const first = await deliver(r);
    assert.equal(first.outcome, 'deployed');
    assert.equal(r.u.store.getDeploy(first.deploy_id!)?.state, 'REVERTED');
    assert.equal(r.u.store.current('app', '')?.version, 'v1');

    const again = await deliver(r);
    assert.equal(again.outcome, 'ignored');
    assert.match(again.reason, new RegExp(`digest ${digest('b')} failed before \\(deploy ${first.deploy_id}\\); waiting for the tag to move`));
    assert.equal(webhookDeploys(r).length, 1);

    r.tags.set('main', digest('c'));
    const moved = await deliver(r);
    assert.equal(moved.outcome, 'deployed');
    assert.equal(r.u.store.getDeploy(moved.deploy_id!)?.state, 'DONE');
    assert.equal(r.u.store.current('app', '')?.version, `main-${'c'.repeat(12)}`);
  });

  it('follows the policy of the current release: an operator push without one stops webhooks', async () => {
    const r = await rig();
    assert.equal((await deliver(r)).outcome, 'deployed');
    await r.u.deploy(r.u.manifest('v2', { auto_deploy: { tag: 'release', sources: [{ name: 'dockerhub' }] } }));
    r.tags.set('main', digest('c'));
    assert.match((await deliver(r)).reason, /untracked tag main \(policy: release\)/);
    await r.u.deploy(r.u.manifest('v3'));
    r.tags.set('release', digest('d'));
    assert.equal((await deliver(r, delivery([push({ tag: 'release' })]))).reason, 'no auto_deploy policy');
    assert.equal(r.u.store.current('app', '')?.version, 'v3');
  });

  it('a flood of 1,000 deliveries for one tag makes at most 2 deploys and keeps 200 rows', async () => {
    const r = await rig();
    const ids: string[] = [];
    for (let i = 0; i < 1000; i += 1) ids.push(r.intake.accepted(TARGET, delivery()).deliveryId);
    await r.intake.idle();
    assert.ok(webhookDeploys(r).length <= 2, `${webhookDeploys(r).length} deploys`);
    assert.equal(webhookDeploys(r).length, 1);
    const rows = r.u.store.webhooks.list('app', '', 1000);
    assert.equal(rows.length, 200);
    assert.equal(r.u.store.dump().webhook_deliveries!.length, 200);
    assert.equal(rows[0]?.id, ids.at(-1));
    assert.equal(rows[0]?.outcome, 'already_serving', 'the one follow-up found the digest serving');
    assert.ok(rows.slice(1).every((row) => row.outcome === 'ignored' && row.reason.startsWith('superseded by whd_')));
    assert.ok(r.lookups.length <= 2);
  });

  it('a registry error is recorded failed with its reason and never the password', async () => {
    const r = await rig();
    r.tags.set('main', () => {
      throw new RegistryError('registry_unauthorized', 502, 'registry registry.test refused user ci (password hunter2-registry-password): 401', undefined, { status: 401 });
    });
    const row = await deliver(r);
    assert.equal(row.outcome, 'failed');
    assert.match(row.reason, /registry lookup of tag main: .*401/);
    assert.doesNotMatch(row.reason, /hunter2/);
    assert.equal(webhookDeploys(r).length, 0);
  });

  it('an operator lock stops webhook deploys: recorded ignored, naming the lock', async () => {
    const r = await rig();
    r.u.store.operatorLocks.acquire({ service: 'app', destination: '', keyId: 'k'.repeat(42) + 'A', message: 'db migration' });
    const row = await deliver(r);
    assert.equal(row.outcome, 'ignored');
    assert.match(row.reason, /db migration/);
    assert.equal(webhookDeploys(r).length, 0);
  });

  it('a delivery during a running deploy waits for it, then resolves the tag again', async () => {
    const r = await rig();
    const v2 = r.u.accept(r.u.manifest('v2', { auto_deploy: POLICY }));
    const { deliveryId } = r.intake.accepted(TARGET, delivery());
    await new Promise((s) => setImmediate(s));
    assert.equal(r.u.store.webhooks.get(deliveryId)?.outcome, 'queued');
    r.tags.set('main', digest('e'));
    await r.u.engine.run(v2.id);
    await r.intake.idle();
    const row = r.u.store.webhooks.get(deliveryId)!;
    assert.equal(row.outcome, 'deployed');
    assert.equal(row.digest, digest('e'));
    assert.equal(r.u.store.getDeploy(row.deploy_id!)?.derived_from, v2.id);
  });

  it('a derived version already released with another image is recorded failed, nothing deployed', async () => {
    const r = await rig();
    const taken = `main-${'b'.repeat(12)}`;
    await r.u.deploy(r.u.manifest(taken, { auto_deploy: POLICY, image: `registry.test/app@${digest('f')}` }));
    const row = await deliver(r);
    assert.equal(row.outcome, 'failed');
    assert.match(row.reason, new RegExp(`version ${taken} was already released with image registry.test/app@${digest('f')}`));
    assert.equal(webhookDeploys(r).length, 0);
  });

  it('a range policy deploys the highest matching tag, whichever matching tag was pushed', async () => {
    const r = await rig({ auto_deploy: { tag: '~1.4', sources: [{ name: 'dockerhub' }] } });
    r.tags.clear();
    for (const [tag, d] of [['1.4.1', digest('1')], ['1.4.3', digest('3')], ['1.5.0', digest('5')], ['latest', digest('9')]] as const) r.tags.set(tag, d);
    // The older 1.4.1 re-pushed: a hint that the tags changed, never a step back.
    const row = await deliver(r, delivery([push({ tag: '1.4.1' })]));
    assert.equal(row.outcome, 'deployed', row.reason);
    assert.equal(row.digest, digest('3'));
    assert.deepEqual(r.lookups.map((l) => l.tag), ['1.4.3']);
    assert.equal(r.u.store.getDeploy(row.deploy_id!)?.version, `1.4.3-${'3'.repeat(12)}`);
    assert.match(row.reason, /the highest tag matching ~1\.4/);

    const again = await deliver(r, delivery([push({ tag: '1.4.1' })]));
    assert.equal(again.outcome, 'already_serving', again.reason);
    assert.equal(webhookDeploys(r).length, 1);
    const outside = await deliver(r, delivery([push({ tag: '1.5.0' })]));
    assert.match(outside.reason, /untracked tag 1\.5\.0 \(policy: ~1\.4\)/);
    assert.equal(r.listings, 2, 'a tag outside the range lists nothing');
  });

  it('a glob policy follows its highest matching version', async () => {
    const r = await rig({ auto_deploy: { tag: 'v*', sources: [{ name: 'dockerhub' }] } });
    r.tags.clear();
    for (const [tag, d] of [['v2.0.0', digest('2')], ['v10.0.0', digest('7')], ['main', digest('9')]] as const) r.tags.set(tag, d);
    const row = await deliver(r, delivery([push({ tag: 'v2.0.0' })]));
    assert.equal(row.digest, digest('7'));
    assert.equal(r.u.store.getDeploy(row.deploy_id!)?.version, `v10.0.0-${'7'.repeat(12)}`);
  });

  it('a range with no matching tag in the registry is ignored with the reason; a listing error is failed without the password', async () => {
    const r = await rig({ auto_deploy: { tag: '>=2.0.0 <3', sources: [{ name: 'dockerhub' }] } });
    r.tags.clear();
    r.tags.set('1.9.0', digest('1'));
    // The pushed tag matches, but the registry no longer lists it (deleted since).
    const row = await deliver(r, delivery([push({ tag: '2.1.0' })]));
    assert.deepEqual([row.outcome, row.reason], ['ignored', 'no tag in the registry matches >=2.0.0 <3 (1 tags listed)']);
    assert.equal(r.lookups.length, 0);

    const broken = await rig({ auto_deploy: { tag: '^2', sources: [{ name: 'dockerhub' }] } });
    const fail = createWebhookIntake({
      store: broken.u.store, engine: broken.u.engine, log: quiet,
      resolve: async () => ({ digest: digest('2') }),
      listTags: async () => {
        throw new RegistryError('upstream_failed', 502, 'registry registry.test refused hunter2-registry-password', undefined, { status: 500 });
      },
      openRegistryCredentials: async () => ({ username: 'ci', password: 'hunter2-registry-password' }),
    });
    const { deliveryId } = fail.accepted(TARGET, delivery([push({ tag: '2.0.0' })]));
    await fail.idle();
    const failed = broken.u.store.webhooks.get(deliveryId)!;
    assert.equal(failed.outcome, 'failed');
    assert.match(failed.reason, /registry listing of the tags matching \^2: .*\[redacted\]/);
    assert.doesNotMatch(failed.reason, /hunter2/);
  });

  it('records refusals with their reason', async () => {
    const r = await rig();
    const { deliveryId } = r.intake.refused(TARGET, 'github', { status: 401, code: 'unauthorized', reason: 'bad signature' });
    const row = r.u.store.webhooks.get(deliveryId);
    assert.deepEqual([row?.outcome, row?.reason, row?.source], ['refused', '401 unauthorized: bad signature', 'github']);
  });
});
