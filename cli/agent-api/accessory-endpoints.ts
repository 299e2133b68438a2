// The accessory endpoints the CLI calls, one typed function each; every
// answer is checked against its shared schema (shared/api-responses.ts)
// before a command reads it, as in endpoints.ts.

import {
  accessoriesResponseSchema,
  accessoryActionResponseSchema,
  accessoryRemovedResponseSchema,
  type AccessoryActionResponse,
  type AccessoryRemovedResponse,
} from '../../shared/api-responses.js';
import type { AccessoryStatus } from '../../shared/api-types.js';
import { UpstreamError } from '../../shared/errors.js';
import { outdatedAgentError, servicePath, type AgentClient } from './client.js';
import type { ServiceRef } from './endpoints.js';

export type AccessoryAction = 'boot' | 'reboot' | 'start' | 'stop';

const malformed = (client: AgentClient, what: string) => new UpstreamError(`${client.label} sent a malformed ${what}`);

/** An agent from before accessories answers every accessory route with "no route for …". */
function rejectOutdated(client: AgentClient, body: unknown): void {
  const outdated = outdatedAgentError(client.label, body, `the agent on ${client.label} does not run accessories`);
  if (outdated) throw outdated;
}

const accessoryPath = (ref: ServiceRef, accessory: string, suffix = '') =>
  servicePath(ref.service, ref.destination, `accessories/${encodeURIComponent(accessory)}${suffix}`);

/** GET /v1/services/:name/accessories: the current release's accessories here; null when the service was never deployed here. */
export async function readAccessories(client: AgentClient, ref: ServiceRef): Promise<AccessoryStatus[] | null> {
  const { status, body } = await client.json('GET', servicePath(ref.service, ref.destination, 'accessories'), { accept: [404] });
  if (status === 404) {
    rejectOutdated(client, body);
    return null;
  }
  const parsed = accessoriesResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'accessory list');
  return parsed.data.accessories;
}

/**
 * POST …/accessories/:accessory/boot|reboot|start|stop: the accessory
 * afterwards and what changed. A boot of one that exists answers 409
 * `accessory_exists`, thrown as the agent's error like any other refusal.
 */
export async function runAccessoryAction(client: AgentClient, ref: ServiceRef, accessory: string, action: AccessoryAction): Promise<AccessoryActionResponse> {
  const { status, body } = await client.json('POST', accessoryPath(ref, accessory, `/${action}`), { body: {}, accept: [404] });
  if (status === 404) {
    rejectOutdated(client, body);
    throw client.errorFrom(status, body);
  }
  const parsed = accessoryActionResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, `answer to ${action}`);
  return parsed.data;
}

/** DELETE …/accessories/:accessory[?purge=1]: what was removed; null when the current release here has no such accessory. */
export async function removeAccessory(client: AgentClient, ref: ServiceRef, accessory: string, purge: boolean): Promise<AccessoryRemovedResponse['removed'] | null> {
  const path = `${accessoryPath(ref, accessory)}${purge ? '&purge=1' : ''}`;
  const { status, body } = await client.json('DELETE', path, { accept: [404] });
  if (status === 404) {
    rejectOutdated(client, body);
    return null;
  }
  const parsed = accessoryRemovedResponseSchema.safeParse(body);
  if (!parsed.success) throw malformed(client, 'accessory removal result');
  return parsed.data.removed;
}
