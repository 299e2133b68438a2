// One typed function per agent endpoint the CLI calls. Each answer is checked
// here against the shared response type (shared/api-responses.ts,
// shared/service-detail.ts) before any command reads it: a field the agent
// does not send cannot be read by mistake elsewhere.

import type { IncomingMessage } from 'node:http';
import {
  DEPLOY_STATES,
  type AuditEntry,
  type CronRun,
  type DeployRecord,
  type MaintenanceState,
  type OperatorLock,
  type PauseState,
  type ReleaseSummary,
  type ServiceRemoval,
  type StoredRelease,
  type WebhookDelivery,
} from '../../shared/api-types.js';
import type {
  AuditResponse,
  DeployResponse,
  IdentityResponse,
  LockReleasedResponse,
  LockResponse,
  MaintenanceResponse,
  ReleaseAcceptedResponse,
  ReleasesResponse,
  RemoveServiceResponse,
  StoredReleaseResponse,
} from '../../shared/api-responses.js';
import { cronJobsResponseSchema, cronRunRecordSchema, cronRunsResponseSchema, webhookDeliveriesResponseSchema, type CronJobsResponse, type CronRunRecord } from '../../shared/api-responses.js';
import { pauseResponseSchema, webhookUrlResponseSchema, type PauseResponse, type WebhookUrlResponse } from '../../shared/api-responses.js';
import { UpstreamError } from '../../shared/errors.js';
import { serviceDetailResponseSchema, type ServiceDetail } from '../../shared/service-detail.js';
import { readNdjson } from '../ndjson.js';
import { outdatedAgentError, servicePath, type AgentClient } from './client.js';

/** The service's name and destination, as every per-service endpoint addresses it. */
export interface ServiceRef {
  service: string;
  destination: string;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A top-level field of an answer, typed by the endpoint's response type; still to be checked by the caller. */
function field<R, K extends keyof R & string>(body: unknown, key: K): unknown {
  return isObject(body) ? body[key] : undefined;
}

function malformed(client: AgentClient, what: string): UpstreamError {
  return new UpstreamError(`${client.label} sent a malformed ${what}`);
}

/** GET /v1/identity (unauthenticated): the self-signed identity document, unverified. */
export async function readIdentityDocument(client: AgentClient): Promise<string> {
  const { body } = await client.json('GET', '/v1/identity', { auth: false });
  const document = field<IdentityResponse, 'document'>(body, 'document');
  if (typeof document !== 'string') throw new UpstreamError(`${client.label} answered /v1/identity without an identity document`);
  return document;
}

/** GET /v1/services/:name: the service as the agent sees it, or null when it was never deployed there. */
export async function readService(client: AgentClient, ref: ServiceRef): Promise<ServiceDetail | null> {
  const { status, body } = await client.json('GET', servicePath(ref.service, ref.destination), { accept: [404] });
  if (status === 404) return null;
  const parsed = serviceDetailResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'service record');
  return parsed.data.service;
}

export async function readServiceSeq(client: AgentClient, ref: ServiceRef): Promise<number> {
  return (await readService(client, ref))?.seq ?? 0;
}

function isReleaseSummary(v: unknown): v is ReleaseSummary {
  const r = v as Partial<ReleaseSummary> | null;
  return (
    typeof r === 'object' && r !== null &&
    typeof r.version === 'string' && typeof r.image === 'string' && typeof r.seq === 'number' &&
    typeof r.key_id === 'string' && typeof r.created_at === 'string' && typeof r.current === 'boolean' &&
    (DEPLOY_STATES as readonly unknown[]).includes(r.last_state) &&
    (r.container === null || r.container === 'running' || r.container === 'stopped') &&
    (r.bake_failed === undefined || typeof r.bake_failed === 'boolean')
  );
}

/** GET /v1/services/:name/releases: newest first; null when the service was never deployed there. */
export async function readReleases(client: AgentClient, ref: ServiceRef): Promise<ReleaseSummary[] | null> {
  const { status, body } = await client.json('GET', servicePath(ref.service, ref.destination, 'releases'), { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} cannot list releases`);
    if (outdated) throw outdated;
    return null;
  }
  const list = field<ReleasesResponse, 'releases'>(body, 'releases');
  if (!Array.isArray(list) || !list.every(isReleaseSummary)) throw malformed(client, 'release list');
  return list;
}

/** GET /v1/services/:name/releases/:version: the stored payload of that release; null when it is not on the server. */
export async function readStoredPayload(client: AgentClient, ref: ServiceRef, version: string): Promise<StoredRelease['payload'] | null> {
  const path = servicePath(ref.service, ref.destination, `releases/${encodeURIComponent(version)}`);
  const { status, body } = await client.json('GET', path, { accept: [404] });
  if (status === 404) return null;
  const release = field<StoredReleaseResponse, 'release'>(body, 'release');
  if (!isObject(release) || release.payload === undefined) throw malformed(client, 'release');
  return release.payload;
}

export function parseDeployRecord(value: unknown, label: string): DeployRecord {
  if (!isObject(value) || typeof value.id !== 'number' || typeof value.state !== 'string' || typeof value.version !== 'string') {
    throw new UpstreamError(`${label} sent a malformed deploy record`);
  }
  if (value.error !== null && value.error !== undefined && typeof value.error !== 'string') throw new UpstreamError(`${label} sent a malformed deploy record`);
  return { ...(value as unknown as DeployRecord), error: (value.error as string | null | undefined) ?? null };
}

/** POST /v1/releases: the signed manifest; the deploy it started. */
export async function postRelease(client: AgentClient, manifest: string): Promise<DeployRecord> {
  const { body } = await client.json('POST', '/v1/releases', { body: { manifest } });
  const deploy = field<ReleaseAcceptedResponse, 'deploy'>(body, 'deploy');
  return parseDeployRecord({ error: null, ...(isObject(deploy) ? deploy : {}) }, client.label);
}

/** GET /v1/deploys/:id. */
export async function readDeploy(client: AgentClient, deployId: number): Promise<DeployRecord> {
  const { body } = await client.json('GET', `/v1/deploys/${deployId}`);
  return parseDeployRecord(field<DeployResponse, 'deploy'>(body, 'deploy'), client.label);
}

/** GET /v1/deploys/:id/events: the open SSE stream, resumed after `lastEventId`; the caller reads and closes it. */
export function openDeployEvents(client: AgentClient, deployId: number, lastEventId: string | undefined, idleTimeoutMs: number): Promise<IncomingMessage> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  return client.stream(`/v1/deploys/${deployId}/events`, headers, idleTimeoutMs);
}

function isAuditEntry(e: unknown): e is AuditEntry {
  const x = e as Partial<AuditEntry> | null;
  return typeof x === 'object' && x !== null && typeof x.id === 'number' && typeof x.at === 'string' && typeof x.key_id === 'string' && typeof x.action === 'string';
}

/** GET /v1/audit: the newest `limit` entries of the service. */
export async function readAudit(client: AgentClient, ref: ServiceRef, limit: number): Promise<AuditEntry[]> {
  const path = `/v1/audit?service=${encodeURIComponent(ref.service)}&destination=${encodeURIComponent(ref.destination)}&limit=${limit}`;
  const entries = field<AuditResponse, 'entries'>((await client.json('GET', path)).body, 'entries');
  if (!Array.isArray(entries) || !entries.every(isAuditEntry)) throw malformed(client, 'audit list');
  return entries;
}

/** GET /v1/services/:name/webhook/deliveries: the newest `limit` deliveries; null when the agent has no such service. */
export async function readWebhookDeliveries(client: AgentClient, ref: ServiceRef, limit: number): Promise<WebhookDelivery[] | null> {
  const path = `${servicePath(ref.service, ref.destination, 'webhook/deliveries')}&limit=${limit}`;
  const { status, body } = await client.json('GET', path, { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} cannot list webhook deliveries`);
    if (outdated) throw outdated;
    return null;
  }
  const parsed = webhookDeliveriesResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'webhook delivery list');
  return parsed.data.deliveries;
}

function parseLock(value: unknown, client: AgentClient): OperatorLock | null {
  if (value === null) return null;
  const lock = value as Partial<OperatorLock> | undefined;
  if (typeof lock !== 'object' || typeof lock.key_id !== 'string' || typeof lock.since !== 'string' || typeof lock.message !== 'string') {
    throw malformed(client, 'lock record');
  }
  return lock as OperatorLock;
}

/** GET /v1/services/:name/lock. */
export async function readLock(client: AgentClient, ref: ServiceRef): Promise<OperatorLock | null> {
  const { body } = await client.json('GET', servicePath(ref.service, ref.destination, 'lock'));
  return parseLock(field<LockResponse, 'lock'>(body, 'lock') ?? null, client);
}

/** PUT /v1/services/:name/lock. */
export async function acquireLock(client: AgentClient, ref: ServiceRef, message: string): Promise<OperatorLock | null> {
  const { body } = await client.json('PUT', servicePath(ref.service, ref.destination, 'lock'), { body: { message } });
  return parseLock(field<LockResponse, 'lock'>(body, 'lock'), client);
}

/** DELETE /v1/services/:name/lock: the lock released, null when none was held. */
export async function releaseLock(client: AgentClient, ref: ServiceRef): Promise<OperatorLock | null> {
  const { status, body } = await client.json('DELETE', servicePath(ref.service, ref.destination, 'lock'), { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `${client.label}: the agent does not support locks`);
    if (outdated) throw outdated;
    return null;
  }
  return parseLock(field<LockReleasedResponse, 'released'>(body, 'released'), client);
}

/** PUT /v1/services/:name/maintenance. */
export async function startMaintenance(client: AgentClient, ref: ServiceRef, message: string | undefined): Promise<MaintenanceState> {
  const { body } = await client.json('PUT', servicePath(ref.service, ref.destination, 'maintenance'), { body: message === undefined ? {} : { message } });
  const state = field<MaintenanceResponse, 'maintenance'>(body, 'maintenance');
  if (!isObject(state) || typeof state.message !== 'string') throw malformed(client, 'maintenance record');
  return state as unknown as MaintenanceState;
}

/** DELETE /v1/services/:name/maintenance. */
export async function endMaintenance(client: AgentClient, ref: ServiceRef): Promise<null> {
  await client.json('DELETE', servicePath(ref.service, ref.destination, 'maintenance'));
  return null;
}

/** POST /v1/services/:name/proxy/pause (timeout in seconds; the agent's default when undefined). */
export async function pauseProxy(client: AgentClient, ref: ServiceRef, timeout: number | undefined): Promise<PauseState> {
  const { body } = await client.json('POST', servicePath(ref.service, ref.destination, 'proxy/pause'), { body: timeout === undefined ? {} : { timeout } });
  const parsed = pauseResponseSchema.safeParse(body);
  if (!parsed.success || !parsed.data.pause) throw malformed(client, 'pause record');
  return parsed.data.pause;
}

/** POST /v1/services/:name/proxy/resume. */
export async function resumeProxy(client: AgentClient, ref: ServiceRef): Promise<null> {
  const { body } = await client.json('POST', servicePath(ref.service, ref.destination, 'proxy/resume'));
  if (field<PauseResponse, 'pause'>(body, 'pause') !== null) throw malformed(client, 'resume answer');
  return null;
}

/** DELETE /v1/services/:name: what was removed; null when the service was not there. */
export async function removeService(client: AgentClient, ref: ServiceRef): Promise<ServiceRemoval | null> {
  const { status, body } = await client.json('DELETE', servicePath(ref.service, ref.destination), { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `${client.label}: the agent cannot remove services`);
    if (outdated) throw outdated;
    return null;
  }
  const removed = field<RemoveServiceResponse, 'removed'>(body, 'removed') as Partial<ServiceRemoval> | undefined;
  if (!removed || !Array.isArray(removed.containers) || typeof removed.routes !== 'number') throw malformed(client, 'removal result');
  return { containers: removed.containers.map(String), routes: removed.routes };
}

/** GET /v1/services/:name/webhook: the webhook paths (each holds the TOKEN) and the policy; null when never deployed there. */
export async function readWebhookUrls(client: AgentClient, ref: ServiceRef): Promise<WebhookUrlResponse | null> {
  const { status, body } = await client.json('GET', servicePath(ref.service, ref.destination, 'webhook'), { accept: [404] });
  if (status === 404) {
    const outdated = outdatedAgentError(client.label, body, `${client.label}: the agent does not take webhooks`);
    if (outdated) throw outdated;
    return null;
  }
  const parsed = webhookUrlResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'webhook answer');
  return parsed.data;
}

/** GET /v1/services/:name/logs?…: the open NDJSON stream of log lines. */
export function openLogs(client: AgentClient, pathAndQuery: string, idleTimeoutMs: number): Promise<IncomingMessage> {
  return client.streamRequest('GET', pathAndQuery, { headers: { accept: 'application/x-ndjson' }, idleTimeoutMs });
}

/** Where a command runs: a role's new (or, reused, running) container, or an accessory's running one. */
export type ExecTarget = { role: string } | { accessory: string };

/** POST /v1/services/:name/exec: the open NDJSON stream of the command's output and exit code. */
export function openExec(client: AgentClient, ref: ServiceRef, request: { cmd: string[]; target: ExecTarget; reuse: boolean }, idleTimeoutMs: number): Promise<IncomingMessage> {
  return client.streamRequest('POST', servicePath(ref.service, ref.destination, 'exec'), {
    body: { cmd: request.cmd, ...request.target, ...(request.reuse ? { reuse: true } : {}) },
    headers: { accept: 'application/x-ndjson' },
    idleTimeoutMs,
  });
}

/** A 404 from a cron route: an outdated agent is an error; otherwise no current release or no such job here (null). */
function cronNotFound(client: AgentClient, body: unknown): null {
  const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} does not run cron jobs`);
  if (outdated) throw outdated;
  return null;
}

/** GET /v1/services/:name/cron: the current release's jobs here; null when the service has no current release here. */
export async function readCronJobs(client: AgentClient, ref: ServiceRef): Promise<CronJobsResponse | null> {
  const { status, body } = await client.json('GET', servicePath(ref.service, ref.destination, 'cron'), { accept: [404] });
  if (status === 404) return cronNotFound(client, body);
  const parsed = cronJobsResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'cron job list');
  return parsed.data;
}

/** GET /v1/services/:name/cron/:job/runs: newest first, at most `limit`; null when the job is not here. */
export async function readCronRuns(client: AgentClient, ref: ServiceRef, job: string, limit: number): Promise<CronRun[] | null> {
  const path = `${servicePath(ref.service, ref.destination, `cron/${encodeURIComponent(job)}/runs`)}&limit=${limit}`;
  const { status, body } = await client.json('GET', path, { accept: [404] });
  if (status === 404) return cronNotFound(client, body);
  const parsed = cronRunsResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'cron run list');
  return parsed.data.runs;
}

/** POST /v1/services/:name/cron/pause or …/resume, of one job or (no job) the whole service: the jobs as they are now. */
export async function setCronPaused(client: AgentClient, ref: ServiceRef, job: string | undefined, paused: boolean): Promise<CronJobsResponse | null> {
  const path = servicePath(ref.service, ref.destination, paused ? 'cron/pause' : 'cron/resume');
  const { status, body } = await client.json('POST', path, { body: job === undefined ? {} : { job }, accept: [404] });
  if (status === 404) return cronNotFound(client, body);
  const parsed = cronJobsResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'cron job list');
  return parsed.data;
}

/** POST /v1/services/:name/cron/:job/run: the run's output records as they come, then its `{run}` record. */
export async function* runCronJob(client: AgentClient, ref: ServiceRef, job: string, idleTimeoutMs: number): AsyncGenerator<CronRunRecord> {
  const res = await client.streamRequest('POST', servicePath(ref.service, ref.destination, `cron/${encodeURIComponent(job)}/run`), {
    body: {},
    headers: { accept: 'application/x-ndjson' },
    idleTimeoutMs,
  });
  for await (const record of readNdjson(res, client.label)) {
    const parsed = cronRunRecordSchema.safeParse(record);
    if (!parsed.success) throw malformed(client, 'cron run record');
    yield parsed.data;
  }
}
