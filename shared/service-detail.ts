// PURE: the answer of GET /v1/services/:name as one schema. The agent builds a
// ServiceDetail and the CLI parses the body with serviceDetailResponseSchema,
// so a field one side writes and the other reads cannot drift apart unnoticed.

import { z } from 'zod';
import { DEPLOY_STATES, DEPLOY_TRIGGERS } from './api-types.js';
import { appStoppedRoleSchema } from './app-state.js';
import { currentReleaseSchema, maintenanceStateSchema, operatorLockSchema, pauseStateSchema } from './api-responses.js';

const containerSchema = z.object({
  id: z.string(), name: z.string(), role: z.string(), release: z.string(), state: z.string(), status: z.string(),
});

/** The newest deploy of the service on this agent, whatever its state: unfinished, failed or reverted too. */
const lastDeploySchema = z.object({
  id: z.number(),
  version: z.string(),
  state: z.enum(DEPLOY_STATES),
  trigger: z.enum(DEPLOY_TRIGGERS),
  /** When it last changed state (ISO 8601). */
  at: z.string(),
  error: z.string().nullable(),
});

// Not strict: a newer agent may add members, which an older CLI ignores.
const serviceDetailSchema = z.object({
  name: z.string(),
  destination: z.string(),
  seq: z.number(),
  current: currentReleaseSchema.nullable(),
  containers: z.array(containerSchema),
  routes: z.array(z.object({ host: z.string(), target: z.string() })),
  // Optional below: agents older than these fields leave them out, and the CLI shows that as unknown.
  /** Set while the service is in maintenance on this agent. */
  maintenance: maintenanceStateSchema.nullable().optional(),
  /** Set while the router holds the service's requests (`deploy proxy pause`). */
  pause: pauseStateSchema.nullable().optional(),
  /** Roles of the live release stopped by `deploy app stop` (empty: none). */
  stopped: z.array(appStoppedRoleSchema).optional(),
  /** The operator lock. */
  lock: operatorLockSchema.nullable().optional(),
  /**
   * Null only when no deploy row of the service exists. One this CLI cannot read
   * (a state or trigger added later) counts as absent rather than failing the read.
   */
  last_deploy: lastDeploySchema.nullable().optional().catch(undefined),
});

export const serviceDetailResponseSchema = z.object({ service: serviceDetailSchema });

export type LastDeploy = z.infer<typeof lastDeploySchema>;
/** GET /v1/services/:name as any agent may send it: the newer fields may be missing. */
export type ServiceDetail = z.infer<typeof serviceDetailSchema>;
export type ServiceContainer = ServiceDetail['containers'][number];
/** What this agent sends: every field present. */
export type ServiceDetailSent = Required<ServiceDetail>;
