// PURE: what the agent answers, one schema per endpoint and per stream record.
// The agent's routes build each answer typed by these (agent/api/), the CLI
// reads them through the same types (cli/agent-api/endpoints.ts), and the
// contract test validates real answers against the schemas, so a field one
// side writes and the other reads cannot drift apart unnoticed.
//
// The records themselves (DeployRecord, AuditEntry, ...) stay interfaces in
// api-types.ts, where the store and engine take them from; each schema here is
// pinned to its interface both ways (`exactly`), so neither can gain or lose a
// member alone. Objects are not strict: a newer agent may add members, which an
// older CLI ignores.

import { z } from 'zod';
import {
  BACKUP_OUTCOMES,
  BACKUP_TRIGGERS,
  BACKUP_VERIFY_RESULTS,
  CRON_OUTCOMES,
  CRON_TRIGGERS,
  DEPLOY_STATES,
  DEPLOY_TRIGGERS,
  WEBHOOK_DELIVERY_OUTCOMES,
  type AccessoryStatus,
  type AuditEntry,
  type BackupRecord,
  type BackupStatus,
  type CronJobStatus,
  type CronRun,
  type CronRunSummary,
  type CurrentRelease,
  type PauseState,
  type DeployEvent,
  type DeployRecord,
  type JWK,
  type MaintenanceState,
  type OperatorLock,
  type ReleaseSummary,
  type ServiceRemoval,
  type ServiceSummary,
  type StoredRelease,
  type WebhookDelivery,
} from './api-types.js';
import type { ErrorBody } from './errors.js';
import { WEBHOOK_SOURCES } from './manifest.js';
import { BACKUP_COMPRESSIONS, BACKUP_KINDS } from './manifest-backups.js';

type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;

/** The schema of exactly T: its output must be a T, and a member on one side only is a compile error. */
function exactly<T>() {
  return <S extends z.ZodType<T>>(schema: S & (SameKeys<z.output<S>, T> extends true ? unknown : { mismatchedMembersOf: T })): S => schema;
}

const isoTime = z.string();

export const jwkSchema: z.ZodType<JWK> = z.looseObject({
  kty: z.string().optional(), crv: z.string().optional(), x: z.string().optional(), d: z.string().optional(), kid: z.string().optional(),
});

export const deployRecordSchema = exactly<DeployRecord>()(z.object({
  id: z.number(),
  service: z.string(),
  destination: z.string(),
  version: z.string(),
  seq: z.number(),
  image: z.string(),
  state: z.enum(DEPLOY_STATES),
  error: z.string().nullable(),
  key_id: z.string(),
  created_at: isoTime,
  updated_at: isoTime,
  trigger: z.enum(DEPLOY_TRIGGERS),
  derived_from: z.number().nullable(),
}));

export const deployEventSchema = exactly<DeployEvent>()(z.object({
  id: z.number(), deploy_id: z.number(), at: isoTime, state: z.enum(DEPLOY_STATES), message: z.string(), progress: z.number().optional(),
}));

export const auditEntrySchema = exactly<AuditEntry>()(z.object({
  id: z.number(), at: isoTime, key_id: z.string(), action: z.string(), service: z.string(), destination: z.string(), detail: z.record(z.string(), z.unknown()),
}));

export const operatorLockSchema = exactly<OperatorLock>()(z.object({
  service: z.string(), destination: z.string(), key_id: z.string(), key_comment: z.string().optional(), message: z.string(), since: isoTime,
}));

export const maintenanceStateSchema = exactly<MaintenanceState>()(z.object({
  service: z.string(), destination: z.string(), key_id: z.string(), message: z.string(), since: isoTime,
}));

export const pauseStateSchema = exactly<PauseState>()(z.object({
  service: z.string(), destination: z.string(), key_id: z.string(), timeout: z.number(), since: isoTime,
}));

export const currentReleaseSchema = exactly<CurrentRelease>()(z.object({ version: z.string(), image: z.string(), seq: z.number(), deploy_id: z.number() }));

export const serviceSummarySchema = exactly<ServiceSummary>()(z.object({
  name: z.string(), destination: z.string(), seq: z.number(), current: currentReleaseSchema.nullable(),
}));

export const releaseSummarySchema = exactly<ReleaseSummary>()(z.object({
  version: z.string(),
  image: z.string(),
  seq: z.number(),
  key_id: z.string(),
  created_at: isoTime,
  trigger: z.enum(DEPLOY_TRIGGERS),
  last_state: z.enum(DEPLOY_STATES),
  error: z.string().nullable(),
  bake_failed: z.boolean().optional(),
  container: z.enum(['running', 'stopped']).nullable(),
  current: z.boolean(),
}));

export const storedReleaseSchema = exactly<StoredRelease>()(z.object({
  version: z.string(), seq: z.number(), image: z.string(), key_id: z.string(), created_at: isoTime, payload: z.unknown(),
}));

export const webhookDeliverySchema = exactly<WebhookDelivery>()(z.object({
  id: z.string(),
  at: isoTime,
  service: z.string(),
  destination: z.string(),
  source: z.string(),
  sender_delivery_id: z.string().nullable(),
  outcome: z.enum(WEBHOOK_DELIVERY_OUTCOMES),
  reason: z.string(),
  tag: z.string().nullable(),
  digest: z.string().nullable(),
  deploy_id: z.number().nullable(),
}));

const cronRunFields = {
  id: z.number(),
  service: z.string(),
  destination: z.string(),
  job: z.string(),
  trigger: z.enum(CRON_TRIGGERS),
  attempt: z.number(),
  scheduled_at: isoTime.nullable(),
  started_at: isoTime,
  ended_at: isoTime.nullable(),
  duration_ms: z.number().nullable(),
  outcome: z.enum(CRON_OUTCOMES),
  exit_code: z.number().nullable(),
  reason: z.string(),
  release: z.string(),
  image: z.string(),
  output_truncated: z.boolean(),
  notify: z.string().nullable(),
};
export const cronRunSummarySchema = exactly<CronRunSummary>()(z.object(cronRunFields));
export const cronRunSchema = exactly<CronRun>()(z.object({ ...cronRunFields, output: z.string() }));

export const cronJobStatusSchema = exactly<CronJobStatus>()(z.object({
  name: z.string(),
  schedule: z.string(),
  timezone: z.string(),
  command: z.array(z.string()),
  role: z.string(),
  concurrency: z.enum(['forbid', 'allow', 'replace']),
  timeout: z.number(),
  retries: z.number(),
  hosts: z.enum(['one', 'all']),
  paused: z.boolean(),
  next_run: isoTime.nullable(),
  running: z.number(),
  last_run: cronRunSummarySchema.nullable(),
  last_success_at: isoTime.nullable(),
  overdue: z.boolean(),
}));

export const accessoryStatusSchema = exactly<AccessoryStatus>()(z.object({
  name: z.string(),
  image: z.string(),
  container: z.string().nullable(),
  state: z.string(),
  port: z.string().nullable(),
  host: z.string(),
  changes: z.array(z.string()),
  directories: z.array(z.string()),
}));

export const serviceRemovalSchema = exactly<ServiceRemoval>()(z.object({ containers: z.array(z.string()), routes: z.number() }));

// ---- One answer per endpoint (GET /v1/services/:name: shared/service-detail.ts).

/** GET /v1/health (public). */
export const healthResponseSchema = z.object({ ok: z.literal(true), version: z.string() });

/** GET /v1/identity (public): the signed document is what the CLI trusts; the rest repeats its claims unsigned, for a human with curl. */
export const identityResponseSchema = z.object({
  document: z.string(),
  agent_id: z.string(),
  tls_fingerprint: z.string(),
  sealing_jwk: jwkSchema,
  version: z.string(),
  features: z.array(z.string()),
});

/** POST /v1/releases (202): the deploy it started, in brief; GET /v1/deploys/:id has the rest. */
export const releaseAcceptedResponseSchema = z.object({
  deploy: deployRecordSchema.pick({ id: true, service: true, destination: true, version: true, state: true }),
});

/** GET /v1/deploys/:id: the deploy and every event so far. */
export const deployResponseSchema = z.object({ deploy: deployRecordSchema, events: z.array(deployEventSchema) });

/** GET /v1/services. */
export const servicesResponseSchema = z.object({ services: z.array(serviceSummarySchema) });

/** GET /v1/services/:name/releases: newest first. */
export const releasesResponseSchema = z.object({ releases: z.array(releaseSummarySchema) });

/** GET /v1/services/:name/releases/:version. */
export const storedReleaseResponseSchema = z.object({ release: storedReleaseSchema });

/** GET /v1/services/:name/webhook/deliveries: newest first. */
export const webhookDeliveriesResponseSchema = z.object({ deliveries: z.array(webhookDeliverySchema) });

/** GET /v1/audit: newest first. */
export const auditResponseSchema = z.object({ entries: z.array(auditEntrySchema) });

/** GET and PUT /v1/services/:name/lock (PUT always answers a lock). */
export const lockResponseSchema = z.object({ lock: operatorLockSchema.nullable() });

/** DELETE /v1/services/:name/lock: the lock released (404 when none was held). */
export const lockReleasedResponseSchema = z.object({ released: operatorLockSchema });

/** PUT and DELETE /v1/services/:name/maintenance (null after DELETE). */
export const maintenanceResponseSchema = z.object({ maintenance: maintenanceStateSchema.nullable() });

/** POST /v1/services/:name/proxy/pause and /proxy/resume (null after resume). */
export const pauseResponseSchema = z.object({ pause: pauseStateSchema.nullable() });

/** DELETE /v1/services/:name. */
export const removeServiceResponseSchema = z.object({ removed: serviceRemovalSchema });

/** Every error status, and the last record of a stream that failed after it began. */
/** GET /v1/services/:name/webhook (scope deploy: each path holds the service's webhook TOKEN). */
export const webhookUrlResponseSchema = z.object({
  urls: z.array(z.object({ source: z.enum(WEBHOOK_SOURCES), path: z.string() })),
  /** The serving release's auto_deploy policy, secrets left out; null without one. */
  policy: z.object({ tag: z.string(), sources: z.array(z.enum(WEBHOOK_SOURCES)), poll: z.number().nullable() }).nullable(),
});

/**
 * GET /v1/services/:name/cron, and the answer of POST .../cron/pause and
 * .../cron/resume: the current release's jobs on this agent. `release` is null
 * when the service has no current release here; `paused` is the whole service's pause.
 */
export const cronJobsResponseSchema = z.object({ release: z.string().nullable(), paused: z.boolean(), jobs: z.array(cronJobStatusSchema) });

/** GET /v1/services/:name/cron/:job/runs, newest first. */
export const cronRunsResponseSchema = z.object({ runs: z.array(cronRunSchema) });

/** GET /v1/services/:name/accessories: the current release's accessories on this agent (404 when never deployed). */
export const accessoriesResponseSchema = z.object({ accessories: z.array(accessoryStatusSchema) });

/**
 * POST /v1/services/:name/accessories/:accessory/boot|reboot|start|stop: the
 * accessory afterwards, and what the action changed (reboot: the spec
 * differences it applied; boot: ["created"] or []; start/stop: [] when it was already so).
 */
export const accessoryActionResponseSchema = z.object({ accessory: accessoryStatusSchema, changed: z.array(z.string()) });

/** DELETE /v1/services/:name/accessories/:accessory[?purge=1]: the container removed (null when there was none) and the directories deleted (purge only). */
export const accessoryRemovedResponseSchema = z.object({ removed: z.object({ container: z.string().nullable(), purged: z.array(z.string()) }) });

export const backupRecordSchema = exactly<BackupRecord>()(z.object({
  id: z.number(),
  service: z.string(),
  destination: z.string(),
  backup: z.string(),
  kind: z.enum(BACKUP_KINDS),
  trigger: z.enum(BACKUP_TRIGGERS),
  started_at: isoTime,
  ended_at: isoTime.nullable(),
  duration_ms: z.number().nullable(),
  outcome: z.enum(BACKUP_OUTCOMES),
  reason: z.string(),
  size: z.number().nullable(),
  raw_size: z.number().nullable(),
  sha256: z.string().nullable(),
  plain_sha256: z.string().nullable(),
  compression: z.enum(BACKUP_COMPRESSIONS),
  recipient: z.string().nullable(),
  release: z.string().nullable(),
  for_release: z.string().nullable(),
  image: z.string().nullable(),
  verify: z.enum(BACKUP_VERIFY_RESULTS).nullable(),
  verify_output: z.string(),
  notify: z.string().nullable(),
  stored: z.boolean(),
}));


const backupStatusSchema = exactly<BackupStatus>()(z.object({
  name: z.string(),
  kind: z.enum(BACKUP_KINDS),
  source: z.string(),
  schedule: z.string().nullable(),
  timezone: z.string(),
  next_run: isoTime.nullable(),
  keep: z.number(),
  max_age: z.number().nullable(),
  compression: z.enum(BACKUP_COMPRESSIONS),
  encrypted: z.boolean(),
  verify: z.boolean(),
  before_deploy: z.boolean(),
  path: z.string(),
  running: z.boolean(),
  last: backupRecordSchema.nullable(),
  newest_good: z.number().nullable(),
}));

/**
 * GET /v1/services/:name/backups[?backup=NAME&limit=N]: the current release's
 * backups on this agent and their records, newest first (404 when never deployed).
 */
export const backupsResponseSchema = z.object({ release: z.string().nullable(), backups: z.array(backupStatusSchema), records: z.array(backupRecordSchema) });

/**
 * The NDJSON lines of POST /v1/services/:name/backups/:backup/run and
 * .../restore: `started` once the run has a record, then `ended` with the
 * record as it finished (restore: the record restored from). A failure after
 * the stream began is an `error` line (errorBodySchema's shape under `error`).
 */
export const backupEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('started'), record: backupRecordSchema }),
  z.object({ event: z.literal('step'), message: z.string() }),
  z.object({ event: z.literal('ended'), record: backupRecordSchema, restored: z.boolean().optional() }),
]);

export const errorBodySchema = exactly<ErrorBody>()(z.object({ error: z.object({ code: z.string(), message: z.string(), hint: z.string().optional() }) }));

export type HealthResponse = z.infer<typeof healthResponseSchema>;
export type IdentityResponse = z.infer<typeof identityResponseSchema>;
export type ReleaseAcceptedResponse = z.infer<typeof releaseAcceptedResponseSchema>;
export type DeployResponse = z.infer<typeof deployResponseSchema>;
export type ServicesResponse = z.infer<typeof servicesResponseSchema>;
export type ReleasesResponse = z.infer<typeof releasesResponseSchema>;
export type StoredReleaseResponse = z.infer<typeof storedReleaseResponseSchema>;
export type AuditResponse = z.infer<typeof auditResponseSchema>;
export type WebhookDeliveriesResponse = z.infer<typeof webhookDeliveriesResponseSchema>;
export type LockResponse = z.infer<typeof lockResponseSchema>;
export type LockReleasedResponse = z.infer<typeof lockReleasedResponseSchema>;
export type MaintenanceResponse = z.infer<typeof maintenanceResponseSchema>;
export type PauseResponse = z.infer<typeof pauseResponseSchema>;
export type RemoveServiceResponse = z.infer<typeof removeServiceResponseSchema>;
export type WebhookUrlResponse = z.infer<typeof webhookUrlResponseSchema>;
export type CronJobsResponse = z.infer<typeof cronJobsResponseSchema>;
export type AccessoriesResponse = z.infer<typeof accessoriesResponseSchema>;
export type AccessoryActionResponse = z.infer<typeof accessoryActionResponseSchema>;
export type AccessoryRemovedResponse = z.infer<typeof accessoryRemovedResponseSchema>;
export type CronRunsResponse = z.infer<typeof cronRunsResponseSchema>;

// ---- Stream records.

/** GET /v1/deploys/:id/events (SSE): `progress` messages carry a DeployEvent (id: its id), the closing `end` the DeployRecord. */
export const deployStreamSchemas = { progress: deployEventSchema, end: deployRecordSchema } as const;
export type DeployStreamRecords = { [K in keyof typeof deployStreamSchemas]: z.infer<(typeof deployStreamSchemas)[K]> };

/** One line of GET /v1/services/:name/logs (NDJSON). */
export const logRecordSchema = z.object({
  t: isoTime,
  role: z.string(),
  release: z.string(),
  container: z.string(),
  stream: z.enum(['stdout', 'stderr']),
  line: z.string(),
  /** Only on the agent's last record of a stream it ended itself: why. */
  end: z.enum(['cut', 'follow_limit']).optional(),
});
export type LogRecord = z.infer<typeof logRecordSchema>;

/** One line of POST /v1/services/:name/exec (NDJSON): output as it comes, then the exit code (null when unknown or cut short). */
export const execRecordSchema = z.union([
  z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ exit_code: z.number().nullable() }),
]);
export type ExecRecord = z.infer<typeof execRecordSchema>;

/**
 * One line of POST /v1/services/:name/cron/:job/run (NDJSON): output as it
 * comes (the role's secret values replaced), then the recorded run (its
 * exit_code, outcome and reason) as the last record.
 */
export const cronRunRecordSchema = z.union([
  z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ run: cronRunSummarySchema }),
]);
export type CronRunRecord = z.infer<typeof cronRunRecordSchema>;
export type BackupsResponse = z.infer<typeof backupsResponseSchema>;
export type BackupEvent = z.infer<typeof backupEventSchema>;
