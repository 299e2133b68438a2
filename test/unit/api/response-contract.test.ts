// The agent's answers against the shared schemas the CLI reads them with
// (shared/api-responses.ts, shared/service-detail.ts): every endpoint is called
// through app.request on a real store, and each body, SSE message and NDJSON
// record must parse, and parse to itself, so the agent sends no member the
// schema does not name either.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { z } from 'zod';
import { buildApp } from '../../../agent/api/app.js';
import { createFailureLimiter } from '../../../agent/api/rate-limit.js';
import type { ContainerInfo, DockerPort, ProcessSession } from '../../../agent/docker.js';
import {
  auditResponseSchema,
  cronJobsResponseSchema,
  cronRunRecordSchema,
  cronRunsResponseSchema,
  deployResponseSchema,
  deployStreamSchemas,
  errorBodySchema,
  execRecordSchema,
  healthResponseSchema,
  identityResponseSchema,
  lockReleasedResponseSchema,
  lockResponseSchema,
  logRecordSchema,
  maintenanceResponseSchema,
  releaseAcceptedResponseSchema,
  releasesResponseSchema,
  removeServiceResponseSchema,
  servicesResponseSchema,
  storedReleaseResponseSchema,
  webhookDeliveriesResponseSchema,
  webhookUrlResponseSchema,
} from '../../../shared/api-responses.js';
import { serviceDetailResponseSchema } from '../../../shared/service-detail.js';
import { ApiFixture } from '../../support/agent-api.js';
import { cronHarness, FakeClock, type CronHarness } from '../../support/cron-fakes.js';
import { moveDeploy } from '../../support/deploy-states.js';
import { waitFor } from '../../support/wait.js';

let f: ApiFixture;
let deployId: number;
let cron: CronHarness;

function container(release: string, running: boolean): ContainerInfo {
  return {
    id: `id-${release}`,
    name: `demo-web-${release}`,
    running,
    state: running ? 'running' : 'exited',
    exitCode: running ? null : 0,
    ip: null,
    labels: { 'berth.service': 'demo', 'berth.role': 'web', 'berth.release': release, 'berth.destination': '', 'berth.kind': 'app' },
    createdAt: Date.now(),
  };
}

/** The body matches the schema exactly: parsing keeps every member it has and adds none. */
function conforms(schema: z.ZodType, body: unknown, what: string): void {
  const parsed = schema.safeParse(body);
  assert.ok(parsed.success, `${what}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}\n${JSON.stringify(body)}`);
  assert.deepEqual(parsed.data, body, `${what}: members the schema does not name`);
}

async function answer(method: string, path: string, status: number, opts: { body?: unknown; key?: ApiFixture['keyA'] } = {}): Promise<unknown> {
  const res = await f.request(method, path, { ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}), ...(opts.key ? { key: opts.key } : {}) });
  const text = await res.text();
  assert.equal(res.status, status, `${method} ${path}: ${text}`);
  return JSON.parse(text);
}

const ndjsonRecords = (text: string) => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);

before(async () => {
  f = await ApiFixture.create({ cron: (store) => (cron = cronHarness(store, new FakeClock(Date.now()))).scheduler });
  f.trustAll();
  f.trust(f.keyB, 'admin');
  // Two releases of demo: v1 served, v2 failed and reverted; every optional member of the detail present.
  const first = (await answer('POST', '/v1/releases', 202, { body: { manifest: await f.manifest({ version: 'v1' }) } })) as { deploy: { id: number } };
  moveDeploy(f.store, first.deploy.id, 'DONE');
  f.store.setCurrent('demo', '', first.deploy.id);
  const second = await answer('POST', '/v1/releases', 202, { body: { manifest: await f.manifest({ version: 'v2' }) } });
  conforms(releaseAcceptedResponseSchema, second, 'POST /v1/releases');
  deployId = (second as { deploy: { id: number } }).deploy.id;
  f.store.addEvent(deployId, 'VERIFIED', 'signature ok');
  f.store.addEvent(deployId, 'PULLED', 'pulling', 40);
  moveDeploy(f.store, deployId, 'FAILED', 'health check failed');
  // Final, so that its event stream ends.
  moveDeploy(f.store, deployId, 'REVERTED');
  f.store.routes.set('demo', '', { service: 'demo', hosts: ['demo.test'], target: '10.210.0.5:8080' });
  f.containers = [container('v1', true), container('v2', false)];
});
after(async () => {
  await cron.scheduler.stop();
  f.cleanup();
});

describe('every JSON answer matches its shared schema', () => {
  it('public: health, identity, and an error body', async () => {
    conforms(healthResponseSchema, await answer('GET', '/v1/health', 200), 'GET /v1/health');
    conforms(identityResponseSchema, await answer('GET', '/v1/identity', 200), 'GET /v1/identity');
    conforms(errorBodySchema, await answer('GET', '/v1/deploys/9999', 404), 'a 404');
  });

  it('deploys: GET /v1/deploys/:id, and its SSE stream (progress events, then the closing record)', async () => {
    conforms(deployResponseSchema, await answer('GET', `/v1/deploys/${deployId}`, 200), 'GET /v1/deploys/:id');
    const res = await f.request('GET', `/v1/deploys/${deployId}/events`);
    assert.equal(res.status, 200);
    const messages = (await res.text()).split('\n\n').filter((b) => b.trim() !== '' && !b.startsWith(':')).map((block) => {
      const lines = block.split('\n');
      const value = (field: string) => lines.find((l) => l.startsWith(`${field}: `))?.slice(field.length + 2);
      return { event: value('event'), data: JSON.parse(value('data') ?? 'null') as unknown };
    });
    assert.deepEqual(messages.map((m) => m.event), [...messages.slice(0, -1).map(() => 'progress'), 'end']);
    assert.ok(messages.length >= 4);
    for (const m of messages) conforms(deployStreamSchemas[m.event as keyof typeof deployStreamSchemas], m.data, `SSE ${m.event}`);
  });

  it('services: the list, and one service with its lock, maintenance and last deploy', async () => {
    conforms(lockResponseSchema, await answer('PUT', '/v1/services/demo/lock?destination=', 200, { body: { message: 'migrating' } }), 'PUT lock');
    conforms(maintenanceResponseSchema, await answer('PUT', '/v1/services/demo/maintenance?destination=', 200, { body: { message: 'back soon' } }), 'PUT maintenance');
    conforms(servicesResponseSchema, await answer('GET', '/v1/services', 200), 'GET /v1/services');
    const detail = await answer('GET', '/v1/services/demo?destination=', 200);
    conforms(serviceDetailResponseSchema, detail, 'GET /v1/services/:name');
    const service = (detail as { service: Record<string, unknown> }).service;
    for (const member of ['current', 'lock', 'maintenance', 'last_deploy']) assert.notEqual(service[member], null, `${member} is sent`);
    assert.equal(((service.routes as unknown[]) ?? []).length, 1);
    conforms(webhookUrlResponseSchema, await answer('GET', '/v1/services/demo/webhook?destination=', 200), 'GET webhook');
  });

  it('releases: the list and one stored release', async () => {
    const list = await answer('GET', '/v1/services/demo/releases?destination=', 200);
    conforms(releasesResponseSchema, list, 'GET releases');
    assert.equal((list as { releases: unknown[] }).releases.length, 2);
    conforms(storedReleaseResponseSchema, await answer('GET', '/v1/services/demo/releases/v1?destination=', 200), 'GET releases/:version');
  });

  it('webhook deliveries: every member present, and null ones', async () => {
    const queued = f.store.webhooks.record({ service: 'demo', destination: '', source: 'github', senderDeliveryId: 'gh-1', outcome: 'queued', tag: 'main' });
    f.store.webhooks.update(queued.id, { outcome: 'deployed', reason: 'release main-bbbbbbbbbbbb', digest: `sha256:${'b'.repeat(64)}`, deployId });
    f.store.webhooks.record({ service: 'demo', destination: '', source: 'dockerhub', outcome: 'refused', reason: '401 unauthorized: bad token' });
    const list = await answer('GET', '/v1/services/demo/webhook/deliveries?destination=&limit=5', 200, { key: f.keyRead });
    conforms(webhookDeliveriesResponseSchema, list, 'GET webhook/deliveries');
    const rows = (list as { deliveries: Array<{ outcome: string; deploy_id: number | null }> }).deliveries;
    assert.deepEqual(rows.map((d) => [d.outcome, d.deploy_id]), [['refused', null], ['deployed', deployId]]);
  });

  it('lock and maintenance: read, release, end', async () => {
    conforms(lockResponseSchema, await answer('GET', '/v1/services/demo/lock?destination=', 200, { key: f.keyRead }), 'GET lock');
    conforms(lockReleasedResponseSchema, await answer('DELETE', '/v1/services/demo/lock?destination=', 200), 'DELETE lock');
    conforms(lockResponseSchema, await answer('GET', '/v1/services/demo/lock?destination=', 200), 'GET lock, none held');
    conforms(maintenanceResponseSchema, await answer('DELETE', '/v1/services/demo/maintenance?destination=', 200), 'DELETE maintenance');
  });

  it('audit, then removal', async () => {
    const audit = await answer('GET', '/v1/audit?service=demo&destination=&limit=100', 200);
    conforms(auditResponseSchema, audit, 'GET /v1/audit');
    assert.ok((audit as { entries: unknown[] }).entries.length >= 4);
    conforms(removeServiceResponseSchema, await answer('DELETE', '/v1/services/demo?destination=', 200, { key: f.keyB }), 'DELETE /v1/services/:name');
  });
});

describe('every NDJSON record matches its shared schema', () => {
  let app: ReturnType<typeof buildApp>;
  before(async () => {
    const res = await f.request('POST', '/v1/releases', { body: JSON.stringify({ manifest: await f.manifest({ service: 'ops', sub: 'ops', version: 'o1' }) }) });
    assert.equal(res.status, 202);
    f.store.setCurrent('ops', '', ((await res.json()) as { deploy: { id: number } }).deploy.id);
    const running = { ...container('o1', true), labels: { ...container('o1', true).labels, 'berth.service': 'ops' } };
    const session = (): ProcessSession => ({
      output: Readable.from([{ stream: 'stdout', data: Buffer.from('hi\n') }, { stream: 'stderr', data: Buffer.from('warn\n') }]),
      close: () => undefined, write: () => undefined, endInput: () => undefined, resize: async () => undefined,
      exitCode: async () => 3, dispose: async () => undefined,
    });
    const docker = {
      listContainers: async () => [running],
      logs: async () => ({ output: Readable.from([{ stream: 'stdout', data: Buffer.from('2024-05-01T10:00:00.123456789Z hello\n') }]), close: () => undefined }),
      exec: async () => session(),
      runAttached: async () => session(),
    } as unknown as DockerPort;
    app = buildApp({
      store: f.store, identity: f.identity, log: { info() {}, warn() {}, error() {} }, docker,
      engine: { run: async () => undefined, setMaintenance: async () => null, setPause: async () => null, removeService: async () => ({ containers: [], routes: 0 }) },
      authLimiter: createFailureLimiter({ max: 10_000, windowMs: 60_000 }),
      ops: { docker, hostname: 'host-1', network: 'berth' },
    });
  });

  async function records(method: string, path: string, body = ''): Promise<unknown[]> {
    const token = await f.token(method, path, body, { key: f.keyB });
    const res = await app.request(path, { method, headers: { authorization: `Berth ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body } : {}) });
    assert.equal(res.status, 200);
    return ndjsonRecords(await res.text());
  }

  it('logs: each line a LogRecord', async () => {
    const lines = await records('GET', '/v1/services/ops/logs?destination=&tail=10');
    assert.ok(lines.length > 0);
    for (const l of lines) conforms(logRecordSchema, l, 'a log record');
  });

  it('exec: output records, then the exit code', async () => {
    const lines = await records('POST', '/v1/services/ops/exec?destination=', JSON.stringify({ cmd: ['ls'], reuse: true }));
    assert.deepEqual(lines.at(-1), { exit_code: 3 });
    assert.ok(lines.length >= 3);
    for (const l of lines) conforms(execRecordSchema, l, 'an exec record');
  });
});

describe('cron: every answer and record matches its shared schema', () => {
  it('list, runs, pause, resume, and a run\'s NDJSON records', async () => {
    const job = { schedule: '@hourly', command: ['bin/tidy'], role: 'web', timeout: 60 };
    const accepted = (await answer('POST', '/v1/releases', 202, { body: { manifest: await f.manifest({ service: 'crons', sub: 'crons', version: 'c1', cron: { tidy: job } }) } })) as { deploy: { id: number } };
    moveDeploy(f.store, accepted.deploy.id, 'DONE');
    f.store.setCurrent('crons', '', accepted.deploy.id);
    cron.scheduler.refresh();
    const base = '/v1/services/crons/cron';
    conforms(cronJobsResponseSchema, await answer('GET', `${base}?destination=`, 200, { key: f.keyRead }), 'GET cron, never run');

    const streamed = f.request('POST', `${base}/tidy/run?destination=`, { body: '{}' });
    const run = await waitFor('the run to start', () => cron.runner.runs[0]);
    const res = await streamed;
    assert.equal(res.status, 200);
    run.onOutput?.({ stream: 'stdout', data: 'tidied\n' });
    run.finish({ output: 'tidied\n' });
    const lines = ndjsonRecords(await res.text());
    assert.equal(lines.length, 2);
    for (const l of lines) conforms(cronRunRecordSchema, l, 'a cron run record');

    const list = await answer('GET', `${base}?destination=`, 200, { key: f.keyRead });
    conforms(cronJobsResponseSchema, list, 'GET cron, after a run');
    assert.notEqual((list as { jobs: Array<{ last_run: unknown }> }).jobs[0]?.last_run, null);
    conforms(cronRunsResponseSchema, await answer('GET', `${base}/tidy/runs?destination=&limit=5`, 200, { key: f.keyRead }), 'GET cron runs');
    conforms(cronJobsResponseSchema, await answer('POST', `${base}/pause?destination=`, 200, { body: { job: 'tidy' } }), 'POST cron/pause');
    conforms(cronJobsResponseSchema, await answer('POST', `${base}/resume?destination=`, 200, { body: {} }), 'POST cron/resume');
  });
});
