// deploy releases: what each server has released of this service, newest first.

import { readReleases } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure, outcomeJson } from '../rollout/hosts.js';
import { renderReleasesTable, type HostReleases } from '../output/releases.js';

export async function releases(ctx: RunContext): Promise<void> {
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const outcomes = await onEveryServer(fleet, (client) => readReleases(client, { service, destination }));
  const rows: HostReleases[] = outcomes.map((o) => outcomeJson(o, 'releases') as HostReleases);
  if (ctx.json) ctx.printer.json({ service, destination, servers: rows });
  else ctx.printer.out(renderReleasesTable(rows));
  const failure = hostsFailure(outcomes, { doing: 'read the releases' });
  if (failure) throw failure;
}
