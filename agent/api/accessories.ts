// /v1/services/:name/accessories…: the current release's accessories on this
// agent (`deploy accessory details`), and boot, reboot, start, stop (deploy
// scope) and remove (admin: `?purge=1` deletes the data the agent keeps for
// it). The work is agent/accessories/service.ts; every change is audited.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AccessoriesResponse, AccessoryActionResponse, AccessoryRemovedResponse } from '../../shared/api-responses.js';
import { BerthError, NotFoundError, UserError } from '../../shared/errors.js';
import { describeIssues, manifestSubject, type ManifestPayload } from '../../shared/manifest.js';
import {
  bootAccessory,
  listAccessories,
  rebootAccessory,
  removeAccessory,
  requireAccessory,
  startAccessory,
  stopAccessory,
  type AccessoryDeps,
  type ActionResult,
} from '../accessories/service.js';
import type { Store } from '../store/index.js';
import { requireToken } from './auth.js';
import type { ApiDeps, ApiEnv } from './context.js';
import { parseJsonBody } from './json-body.js';
import { boolParam } from './ops-input.js';
import { checkName, requireDeployed, serviceQuery, serviceTarget, type ServiceTarget } from './params.js';

const emptyBodySchema = z.strictObject({});

/** The current release here, which must name the accessory (404 otherwise). */
export function requireCurrentAccessory(store: Store, target: ServiceTarget, name: string): ManifestPayload {
  const m = currentRelease(store, target);
  requireAccessory(m, name);
  return m;
}

function currentRelease(store: Store, target: ServiceTarget): ManifestPayload {
  requireDeployed(store, target);
  const current = store.current(target.service, target.destination);
  const m = current ? store.getRelease(current.deploy_id)?.payload : undefined;
  if (!m) throw new NotFoundError(`${manifestSubject(target.service, target.destination)} has no current release on this agent`, 'deploy it first');
  return m;
}

function accessoriesOf(deps: ApiDeps): AccessoryDeps {
  if (!deps.accessories) throw new BerthError('unavailable', 503, 'this agent was started without accessory support');
  return deps.accessories;
}

type Action = 'boot' | 'reboot' | 'start' | 'stop';
const ACTIONS: Record<Action, (deps: AccessoryDeps, m: ManifestPayload, name: string) => Promise<ActionResult>> = {
  boot: bootAccessory,
  reboot: rebootAccessory,
  start: startAccessory,
  stop: stopAccessory,
};

export function accessoryRoutes(app: Hono<ApiEnv>, deps: ApiDeps): void {
  const base = '/v1/services/:name/accessories';

  app.get(base, requireToken(deps, 'read'), async (c) => {
    const target = serviceTarget(c);
    const m = currentRelease(deps.store, target);
    return c.json({ accessories: await listAccessories(accessoriesOf(deps), m) } satisfies AccessoriesResponse);
  });

  for (const action of Object.keys(ACTIONS) as Action[]) {
    app.post(`${base}/:accessory/${action}`, requireToken(deps, 'deploy'), async (c) => {
      const target = serviceTarget(c);
      const name = checkName(c.req.param('accessory') ?? '', 'accessory');
      const parsed = emptyBodySchema.safeParse(parseJsonBody(c.get('rawBody')));
      if (!parsed.success) throw new UserError(`request body: ${describeIssues(parsed.error)}`, 'expected {}');
      const m = requireCurrentAccessory(deps.store, target, name);
      const ad = accessoriesOf(deps);
      const result = await ACTIONS[action](ad, m, name);
      deps.store.audit.record({
        keyId: c.get('caller').kid,
        action: `accessory.${action}`,
        service: target.service,
        destination: target.destination,
        detail: { accessory: name, release: m.version, changed: result.changed },
      });
      return c.json(result satisfies AccessoryActionResponse);
    });
  }

  app.delete(`${base}/:accessory`, requireToken(deps, 'admin'), async (c) => {
    const { target, query } = serviceQuery(c, ['purge']);
    const name = checkName(c.req.param('accessory') ?? '', 'accessory');
    const purge = boolParam('purge', query.purge);
    // Not requireCurrentAccessory: an accessory dropped from the release keeps its container until removed.
    const m = currentRelease(deps.store, target);
    const ad = accessoriesOf(deps);
    const removed = await removeAccessory(ad, m, name, purge);
    deps.store.audit.record({
      keyId: c.get('caller').kid,
      action: 'accessory.remove',
      service: target.service,
      destination: target.destination,
      detail: { accessory: name, purge, container: removed.container, purged: removed.purged },
    });
    return c.json({ removed } satisfies AccessoryRemovedResponse);
  });
}
