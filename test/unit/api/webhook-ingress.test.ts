// POST /.berth/webhooks/:source/:token: a TOKEN naming no service is a plain
// 404 with nothing recorded; past it, every verdict goes through the intake
// (recorded), the answer carries its delivery id, and nothing else changes.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Delivery, WebhookSource } from '../../../agent/core/webhooks/index.js';
import { webhookToken, webhookTokenKey } from '../../../agent/core/webhook-token.js';
import type { WebhookIntake, WebhookRefused, WebhookTarget } from '../../../agent/webhooks/types.js';
import { seal } from '../../../shared/sealing.js';
import { ApiFixture } from '../../support/agent-api.js';
import { moveDeploy } from '../../support/deploy-states.js';
import { waitFor } from '../../support/wait.js';

const SECRET = 'whsec-ingress-0123456789abcdef';
const PER_MINUTE = 5;

class RecordingIntake implements WebhookIntake {
  readonly calls: Array<{ kind: 'accepted'; target: WebhookTarget; delivery: Delivery } | { kind: 'refused'; target: WebhookTarget; source: WebhookSource; refusal: WebhookRefused }> = [];
  accepted(target: WebhookTarget, delivery: Delivery) {
    this.calls.push({ kind: 'accepted', target, delivery });
    return { deliveryId: `d${this.calls.length}` };
  }
  refused(target: WebhookTarget, source: WebhookSource, refusal: WebhookRefused) {
    this.calls.push({ kind: 'refused', target, source, refusal });
    return { deliveryId: `d${this.calls.length}` };
  }
}

let f: ApiFixture;
let intake: RecordingIntake;
let token: (service: string) => string;

before(async () => {
  intake = new RecordingIntake();
  f = await ApiFixture.create({ webhooks: { webhookIntake: intake, webhooksPerMinute: PER_MINUTE } });
  f.trustAll();
  const key = webhookTokenKey(f.identity.sealingPrivateJwk);
  token = (service) => webhookToken(key, { service, destination: '' });
  // hooks: a policy accepting generic and dockerhub; plain: served, no policy; limited: for the rate cap.
  for (const service of ['hooks', 'plain', 'limited']) {
    const secret = await seal(SECRET, f.identity.sealingPublicJwk, { use: 'webhook-secret', service, destination: '', source: 'generic' });
    const policy = service === 'plain' ? {} : { auto_deploy: { tag: 'main', sources: [{ name: 'generic' as const, secret }, { name: 'dockerhub' as const }] } };
    const res = await f.postRelease(await f.manifest({ service, sub: service, ...policy }));
    assert.equal(res.status, 202, await res.clone().text());
    const { deploy } = (await res.json()) as { deploy: { id: number } };
    moveDeploy(f.store, deploy.id, 'DONE');
    f.store.setCurrent(service, '', deploy.id);
  }
  // Served nowhere: a release was accepted, none is current.
  assert.equal((await f.postRelease(await f.manifest({ service: 'pending', sub: 'pending' }))).status, 202);
  await waitFor('the four accepted releases’ runs', () => f.runs.length === 4);
});
after(() => f.cleanup());
beforeEach(() => {
  intake.calls.length = 0;
});

function signed(body: string, secret = SECRET, at = Math.floor(Date.now() / 1000)): Record<string, string> {
  const signature = createHmac('sha256', secret).update(`${at}.`).update(body).digest('hex');
  return { 'content-type': 'application/json', 'x-berth-timestamp': String(at), 'x-berth-signature': `sha256=${signature}` };
}

const PUSH = JSON.stringify({ repository: 'registry.example.com/acme/web', tag: 'main' });

function deliver(path: string, body: string | ReadableStream<Uint8Array> = PUSH, headers: Record<string, string> = signed(PUSH), method = 'POST'): Promise<Response> {
  const init: RequestInit & { duplex?: string } = { method, headers, ...(method === 'POST' ? { body, duplex: 'half' } : {}) };
  return Promise.resolve(f.app.request(path, init));
}

async function answer(res: Response): Promise<{ status: number; body: any }> {
  return { status: res.status, body: await res.json() };
}

/** Runs `fn` and checks the store is as before, except what the intake was asked to record. */
async function unchanged<T>(fn: () => Promise<T>): Promise<T> {
  const before = JSON.stringify(f.store.dump());
  const runs = f.runs.length;
  const out = await fn();
  assert.equal(JSON.stringify(f.store.dump()), before, 'the store is unchanged');
  assert.equal(f.runs.length, runs, 'no deploy started');
  return out;
}

describe('webhook ingress', () => {
  it('accepts an authentic delivery: 202 with the intake’s delivery id, the intake given the target and the delivery', async () => {
    const { status, body } = await unchanged(async () => answer(await deliver(`/.berth/webhooks/generic/${token('hooks')}`)));
    assert.deepEqual([status, body], [202, { delivery_id: 'd1' }]);
    assert.equal(intake.calls.length, 1);
    const call = intake.calls[0]!;
    assert.equal(call.kind, 'accepted');
    assert.deepEqual(call.target, { service: 'hooks', destination: '' });
    if (call.kind === 'accepted') {
      assert.equal(call.delivery.source, 'generic');
      assert.deepEqual(call.delivery.events, [{ registry: 'registry.example.com', repository: 'acme/web', tag: 'main' }]);
    }
  });

  it('answers a TOKEN that names no service and an unknown source with the same 404, recording nothing', async () => {
    const bad = token('hooks').replace(/^./, (ch) => (ch === 'A' ? 'B' : 'A'));
    const answers = await unchanged(async () => [
      await answer(await deliver(`/.berth/webhooks/generic/${bad}`)),
      await answer(await deliver(`/.berth/webhooks/generic/short`)),
      await answer(await deliver(`/.berth/webhooks/gitlab/${token('hooks')}`)),
      await answer(await deliver(`/.berth/webhooks/generic/${token('hooks')}/extra`)),
      await answer(await deliver(`/.berth/webhooks/generic/${token('nobody')}`)),
    ]);
    for (const a of answers) assert.deepEqual(a, { status: 404, body: { error: { code: 'not_found', message: 'no webhook here' } } });
    assert.deepEqual(intake.calls, []);
  });

  it('records a delivery for a source the policy does not list, and one for a service without a policy or a serving release', async () => {
    const cases: Array<[string, string, number, string]> = [
      ['github', 'hooks', 404, 'source_not_allowed'],
      ['generic', 'plain', 404, 'no_policy'],
      ['generic', 'pending', 404, 'no_policy'],
    ];
    for (const [source, service, status, code] of cases) {
      intake.calls.length = 0;
      const a = await unchanged(async () => answer(await deliver(`/.berth/webhooks/${source}/${token(service)}`)));
      assert.equal(a.status, status);
      assert.equal(a.body.error.code, code);
      assert.equal(a.body.delivery_id, 'd1');
      assert.deepEqual(intake.calls.map((c) => [c.kind, c.target.service, c.kind === 'refused' && c.refusal.code]), [['refused', service, code]]);
    }
  });

  it('refuses a wrong HMAC with 401, recorded through the intake, never deploying', async () => {
    const a = await unchanged(async () => answer(await deliver(`/.berth/webhooks/generic/${token('hooks')}`, PUSH, signed(PUSH, 'not-the-secret'))));
    assert.deepEqual([a.status, a.body.error.code, a.body.delivery_id], [401, 'unauthorized', 'd1']);
    const call = intake.calls[0]!;
    assert.equal(call.kind, 'refused');
    if (call.kind === 'refused') assert.deepEqual([call.source, call.refusal.status], ['generic', 401]);
    assert.doesNotMatch(JSON.stringify(a.body), new RegExp(SECRET));
  });

  it('refuses a declared oversized body with 413 before reading it, and a streamed one once it passes 64 KiB', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += 1;
        controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const declared = await deliver(`/.berth/webhooks/generic/${token('hooks')}`, endless, { ...signed(PUSH), 'content-length': String(65 * 1024) });
    assert.equal(declared.status, 413);
    assert.ok(pulled <= 1, `nothing read (pulled ${pulled} chunks)`);
    assert.deepEqual(intake.calls, []);

    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(16 * 1024));
      },
    });
    const a = await answer(await deliver(`/.berth/webhooks/generic/${token('hooks')}`, chunked));
    assert.deepEqual([a.status, a.body.error.code, a.body.delivery_id], [413, 'payload_too_large', 'd1']);
  });

  it('answers a non-POST with 405', async () => {
    const res = await deliver(`/.berth/webhooks/generic/${token('hooks')}`, '', {}, 'GET');
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it(`caps deliveries per source and service at ${PER_MINUTE} a minute: 429, the first of a window recorded`, async () => {
    const path = `/.berth/webhooks/dockerhub/${token('limited')}`;
    const statuses: number[] = [];
    const ids: unknown[] = [];
    for (let i = 0; i < PER_MINUTE + 3; i += 1) {
      const a = await answer(await deliver(path, '{}', { 'content-type': 'application/json' }));
      statuses.push(a.status);
      ids.push(a.body.delivery_id);
    }
    assert.deepEqual(statuses.slice(PER_MINUTE), [429, 429, 429]);
    assert.ok(statuses.slice(0, PER_MINUTE).every((s) => s !== 429), String(statuses));
    assert.equal(ids[PER_MINUTE + 1], undefined, 'later 429s are not recorded');
    const refusals429 = intake.calls.filter((c) => c.kind === 'refused' && c.refusal.status === 429);
    assert.equal(refusals429.length, 1);
    // Another service's cap is its own.
    assert.equal((await deliver(`/.berth/webhooks/generic/${token('hooks')}`)).status, 202);
  });

  it('answers 503 without an intake, and the URL route hands the paths out under scope deploy only', async () => {
    const bare = await ApiFixture.create();
    try {
      bare.trustAll();
      const key = webhookTokenKey(bare.identity.sealingPrivateJwk);
      const res = await bare.postRelease(await bare.manifest({ service: 'x', sub: 'x' }));
      assert.equal(res.status, 202);
      const a = await answer(await bare.app.request(`/.berth/webhooks/dockerhub/${webhookToken(key, { service: 'x', destination: '' })}`, { method: 'POST', body: '{}' }));
      assert.deepEqual([a.status, a.body.error.code], [503, 'unavailable']);
    } finally {
      bare.cleanup();
    }
    const url = await answer(await f.request('GET', '/v1/services/hooks/webhook'));
    assert.equal(url.status, 200);
    assert.deepEqual(url.body, {
      urls: [
        { source: 'generic', path: `/.berth/webhooks/generic/${token('hooks')}` },
        { source: 'dockerhub', path: `/.berth/webhooks/dockerhub/${token('hooks')}` },
      ],
      policy: { tag: 'main', sources: ['generic', 'dockerhub'], poll: null },
    });
    assert.deepEqual(await answer(await f.request('GET', '/v1/services/plain/webhook')), { status: 200, body: { urls: [], policy: null } });
    assert.equal((await f.request('GET', '/v1/services/hooks/webhook', { key: f.keyRead })).status, 403);
    assert.equal((await f.request('GET', '/v1/services/nope/webhook')).status, 404);
  });

  it('never logs the TOKEN', async () => {
    await deliver(`/.berth/webhooks/generic/${token('hooks')}`);
    await deliver(`/.berth/webhooks/generic/${token('hooks')}`, PUSH, signed(PUSH, 'wrong'));
    assert.doesNotMatch(f.logLines.join('\n'), new RegExp(token('hooks')));
  });
});
