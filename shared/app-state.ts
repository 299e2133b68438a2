// PURE: `deploy app stop|start` on the wire. POST /v1/services/:name/app/stop
// and /app/start take {"roles": [...]} (or {} for every role of the live
// release) and answer AppStateResponse; GET /v1/services/:name carries the
// stopped roles as `stopped`. The agent advertises APP_STATE_FEATURE.
import { z } from 'zod';
import { NAME } from './manifest-names.js';

export const APP_STATE_FEATURE = 'app.stop.v1';

/** A role stopped by `deploy app stop`, as the agent keeps it. */
export interface AppStoppedRole {
  role: string;
  /** The router entry left out while stopped; null for a role without proxy. */
  route: string | null;
  /** The deploy whose release was live when it stopped. */
  deploy_id: number;
  key_id: string;
  /** ISO 8601. */
  since: string;
}

export const appStoppedRoleSchema = z.object({
  role: z.string(), route: z.string().nullable(), deploy_id: z.number(), key_id: z.string(), since: z.string(),
});

export const appStateRequestSchema = z.strictObject({
  roles: z.array(z.string().regex(NAME, 'a role name: lower-case letters, digits, - and _')).min(1).max(64).optional(),
});
export type AppStateRequest = z.infer<typeof appStateRequestSchema>;

const roleOutcomeSchema = z.object({
  role: z.string(),
  /** After the request. */
  stopped: z.boolean(),
  /** False when the role already was in that state (a repeated stop still stops a container left running). */
  changed: z.boolean(),
  /** The live release's containers of the role. */
  containers: z.array(z.string()),
});
export type AppRoleOutcome = z.infer<typeof roleOutcomeSchema>;

export const appStateResponseSchema = z.object({
  app: z.object({
    service: z.string(),
    destination: z.string(),
    version: z.string(),
    roles: z.array(roleOutcomeSchema),
  }),
});
export type AppStateResponse = z.infer<typeof appStateResponseSchema>;
export type AppStateResult = AppStateResponse['app'];
