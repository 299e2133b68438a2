// deploy accessory boot|reboot|start|stop|remove|details: asks the agents of
// the servers each accessory is placed on (the config's plan), one accessory
// after the other, its servers in parallel. reboot (which restarts a
// database) and remove ask first, like `deploy remove`.

import { isBerthError, ForbiddenError, UserError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import { readAccessories, removeAccessory, runAccessoryAction, type AccessoryAction } from '../agent-api/accessory-endpoints.js';
import type { AgentClient } from '../agent-api/client.js';
import { loadAppConfig, readOperatorKey } from '../app-config.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/types.js';
import { askLine } from '../prompt.js';
import { onEveryServer, type Fleet } from '../rollout/fleet.js';
import { hostsFailure, type HostOutcome } from '../rollout/hosts.js';
import { renderAccessoryActions, renderAccessoryDetails, renderAccessoryRemoved, type AccessoryRow, type ActionResult, type HostAccessories, type Removed } from './accessory-render.js';
import { accessoryTargets, ALL, targetServers, type AccessoryTarget } from './accessory-target.js';

/** Boot may pull an image; reboot, stop and remove wait for the container's stop timeout. */
const ACTION_TIMEOUT_MS = 10 * 60_000;

type Ask = (question: string) => Promise<string>;
type Outcome<T> = HostOutcome<T> & { accessory: string };

/** The targets from deploy.yml, then the key: a NAME that is not an accessory is a usage error before the key is read. */
async function load(ctx: RunContext, name: string | undefined, o: { dropped?: boolean } = {}): Promise<{ fleet: Fleet; targets: AccessoryTarget[] }> {
  const { config, appDir } = await loadAppConfig(ctx);
  const targets = accessoryTargets(config, name, o);
  return { fleet: { config, appDir, key: await readOperatorKey(ctx) }, targets };
}

/** Each accessory in turn, on its servers in parallel. */
async function onAccessories<T>(fleet: Fleet, targets: readonly AccessoryTarget[], task: (client: AgentClient, accessory: string) => Promise<T>): Promise<Array<Outcome<T>>> {
  const all: Array<Outcome<T>> = [];
  for (const t of targets) {
    const outcomes = await onEveryServer(fleet, (client) => task(client, t.name), { servers: t.servers, timeoutMs: ACTION_TIMEOUT_MS });
    all.push(...outcomes.map((o) => ({ ...o, accessory: t.name })));
  }
  return all;
}

function rowOf<T>(o: Outcome<T | null>): AccessoryRow<T> {
  return o.ok ? { host: o.host, accessory: o.accessory, result: o.value } : { host: o.host, accessory: o.accessory, result: null, error: o.error };
}

/** `db on 10.0.0.1:7443, 10.0.0.2:7443; cache on 10.0.0.1:7443`. */
export function describeTargets(targets: readonly AccessoryTarget[]): string {
  return targets.map((t) => `${t.name} on ${t.servers.length ? t.servers.map(formatServerAddress).join(', ') : 'no server'}`).join('; ');
}

/**
 * Asks on a terminal for the accessory's name (the service's for `all`);
 * elsewhere -y must have been given. `what` says what is about to happen.
 */
export async function confirmAccessory(ctx: RunContext, o: { command: string; name: string; confirmed: boolean; what: string; config: DeployConfig }, ask: Ask): Promise<void> {
  if (o.confirmed) return;
  if (!ctx.env.stdinIsTTY) throw new UserError(`deploy accessory ${o.command} ${o.name} needs confirmation`, 'run it on a terminal, or pass -y (--confirmed)', 'usage');
  const expected = o.name === ALL ? o.config.service : o.name;
  const answer = await ask(`${o.what}\nType the ${o.name === ALL ? 'service' : 'accessory'} name to confirm: `);
  if (answer.trim() !== expected) throw new UserError(`not confirmed; nothing was ${o.command === 'remove' ? 'removed' : 'rebooted'}`, `type ${expected} exactly, or pass -y`, 'not_confirmed');
}

export interface ActionOptions {
  action: AccessoryAction;
  name: string;
  confirmed: boolean;
}

export async function runAccessoryActionCommand(ctx: RunContext, options: ActionOptions, ask: Ask): Promise<void> {
  const { action, name } = options;
  const { fleet, targets } = await load(ctx, name);
  const { service, destination } = fleet.config;
  if (action === 'reboot') {
    const what = `This reboots ${describeTargets(targets)}: each container is replaced by the current release's (restarting it; the data in its directories is kept).`;
    await confirmAccessory(ctx, { command: 'reboot', name, confirmed: options.confirmed, what, config: fleet.config }, ask);
  }
  const outcomes = await onAccessories<ActionResult>(fleet, targets, async (client, accessory) => {
    try {
      return await runAccessoryAction(client, { service, destination }, accessory, action);
    } catch (err) {
      // Booting one that runs already is what `deploy push` did for it: not a failure.
      if (action === 'boot' && isBerthError(err) && err.code === 'accessory_exists') return { exists: true };
      throw err;
    }
  });
  const rows = outcomes.map(rowOf);
  if (ctx.json) ctx.printer.json({ service, destination, action, accessories: rows });
  else ctx.printer.out(renderAccessoryActions(action, rows, ctx.style));
  const failure = hostsFailure(outcomes, { doing: `${action} ${name === ALL ? 'the accessories' : name}` });
  if (failure) throw failure;
}

export async function runAccessoryRemove(ctx: RunContext, options: { name: string; purge: boolean; confirmed: boolean }, ask: Ask): Promise<void> {
  const { name, purge } = options;
  const { fleet, targets } = await load(ctx, name, { dropped: true });
  const { service, destination } = fleet.config;
  const what = purge
    ? `This removes ${describeTargets(targets)}, and DELETES the directories the agent keeps for ${name === ALL ? 'them' : 'it'} (--purge): their data is lost.`
    : `This removes ${describeTargets(targets)} (the containers; the directories the agent keeps stay, --purge deletes them).`;
  await confirmAccessory(ctx, { command: 'remove', name, confirmed: options.confirmed, what, config: fleet.config }, ask);
  const outcomes = await onAccessories<Removed | null>(fleet, targets, async (client, accessory) => {
    try {
      return await removeAccessory(client, { service, destination }, accessory, purge);
    } catch (err) {
      if (isBerthError(err) && err.code === 'forbidden') {
        throw new ForbiddenError(err.message, "removing an accessory needs a key the server trusts with admin scope: pass one with --key FILE (on the server, root grants it: berth-agent trust add 'LINE' --scope admin)");
      }
      throw err;
    }
  });
  const rows = outcomes.map(rowOf);
  if (ctx.json) ctx.printer.json({ service, destination, purge, accessories: rows });
  else ctx.printer.out(renderAccessoryRemoved(rows, ctx.style));
  const failure = hostsFailure(outcomes, { doing: `remove ${name === ALL ? 'the accessories' : name}` });
  if (failure) throw failure;
}

export async function accessoryDetails(ctx: RunContext, options: { name: string | undefined }): Promise<void> {
  const { fleet, targets } = await load(ctx, options.name);
  const { service, destination } = fleet.config;
  const servers = targetServers(fleet.config, targets);
  const names = new Set(targets.map((t) => t.name));
  const outcomes = await onEveryServer(fleet, async (client) => (await readAccessories(client, { service, destination }))?.filter((a) => names.has(a.name)) ?? null, { servers });
  const hosts: HostAccessories[] = outcomes.map((o, i) => {
    const server = servers[i];
    const expected = targets.filter((t) => server !== undefined && t.servers.includes(server)).map((t) => t.name);
    return o.ok ? { host: o.host, expected, accessories: o.value } : { host: o.host, expected, accessories: null, error: o.error };
  });
  if (ctx.json) ctx.printer.json({ service, destination, servers: hosts.map(({ expected: _expected, ...h }) => h) });
  else ctx.printer.out(renderAccessoryDetails(hosts, ctx.style));
  const failure = hostsFailure(outcomes, { doing: 'read the accessories' });
  if (failure) throw failure;
}

export const accessoryAction = (ctx: RunContext, options: ActionOptions): Promise<void> => runAccessoryActionCommand(ctx, options, askLine);
export const accessoryRemove = (ctx: RunContext, options: { name: string; purge: boolean; confirmed: boolean }): Promise<void> => runAccessoryRemove(ctx, options, askLine);
