// deploy rollback [RELEASE]: every server back to RELEASE (default: the
// release before the current one on the primary host, so all servers go to
// the same version). Each server gets a new signed manifest made from the
// payload it stored for that version, so a retained container is started
// again with no pull; the rollout is push's (primary first, boot.limit batches).

import { ConfigError, NotFoundError, UserError } from '../../shared/errors.js';
import { isValidVersion, manifestSubject } from '../../shared/manifest.js';
import type { AgentClient } from '../agent-api/client.js';
import { readReleases, readStoredPayload } from '../agent-api/endpoints.js';
import { planContainers, type Plan } from '../config/plan.js';
import type { DeployConfig } from '../config/schema.js';
import type { RunContext } from '../command.js';
import { loadFleet } from '../rollout/fleet.js';
import type { OperatorKeyFile } from '../keys.js';
import { connectPinned } from '../agent-api/pinning.js';
import { previousRelease, rollbackPayload } from '../rollback-release.js';
import { restoreHints } from './backup-hints.js';
import { hostsWithRoles, lockWaitSeconds as parseLockWait, primaryHostOf, rollOut, type ReleaseMaker } from '../rollout/deliver.js';

const ROLLBACK_FEATURE = 'rollback.v1';

async function storedPayload(client: AgentClient, config: DeployConfig, version: string): Promise<unknown> {
  const payload = await readStoredPayload(client, config, version);
  if (payload === null) {
    throw new NotFoundError(
      `${client.label}: release ${version} of ${manifestSubject(config.service, config.destination)} is not on this server`,
      'deploy releases lists the releases each server has',
    );
  }
  return payload;
}

/** The primary host decides, so every server goes to the same version. */
async function chooseTarget(config: DeployConfig, plan: Plan, appDir: string, key: OperatorKeyFile): Promise<string> {
  const targets = hostsWithRoles(config, plan);
  const primary = primaryHostOf(config, plan) ?? targets[0]?.host;
  const address = targets.find((t) => t.host === primary)?.address ?? targets[0]?.address;
  if (!address || !primary) throw new ConfigError('servers: no role has a host to roll back');
  const { client } = await connectPinned({ appDir, address, key, trustNew: false });
  const releases = await readReleases(client, config);
  const version = releases ? previousRelease(releases) : undefined;
  if (!version) {
    throw new NotFoundError(
      `${primary} (the primary host) has no earlier release of ${manifestSubject(config.service, config.destination)} that went live`,
      'deploy releases lists the releases; name one with deploy rollback RELEASE',
    );
  }
  return version;
}

export async function rollback(ctx: RunContext, options: { release: string | undefined; lockWait: string | undefined }): Promise<void> {
  const lockWaitSeconds = parseLockWait(options.lockWait);
  const named = options.release;
  if (named !== undefined && !isValidVersion(named)) {
    throw new UserError(`"${named.slice(0, 80)}" is not a release name`, 'deploy releases lists the releases', 'usage');
  }
  const { config, appDir, key } = await loadFleet(ctx);
  const plan = planContainers(config);
  const version = named ?? (await chooseTarget(config, plan, appDir, key));
  const count = hostsWithRoles(config, plan).length;
  if (count === 0) throw new ConfigError('servers: no role has a host to roll back');
  const where = config.destination ? ` (destination ${config.destination})` : '';
  if (!ctx.json) ctx.printer.err(`rolling back ${config.service}${where} to ${version} on ${count} server(s)`);

  const maker: ReleaseMaker = {
    requiredFeatures: ['releases.v1'],
    async prepare({ host, client, pin, identity }) {
      const stored = await storedPayload(client, config, version);
      const markTrigger = identity.features.includes(ROLLBACK_FEATURE);
      const base = { host, kid: key.kid, agentId: pin.agent_id, service: config.service, destination: config.destination, version, markTrigger };
      // Checked once here, so a payload that does not fit fails before anything is posted.
      rollbackPayload(stored, { ...base, seq: 1, nowSeconds: Math.floor(Date.now() / 1000) });
      return async ({ seq, nowSeconds }) => rollbackPayload(stored, { ...base, seq, nowSeconds });
    },
  };
  await rollOut(ctx, {
    config, plan, appDir, key, version, maker, lockWaitSeconds,
    // A server seen for the first time has nothing to roll back to.
    trustNew: false,
    words: { done: 'rolled back', verb: 'rollback' },
  });
  if (!ctx.json) for (const line of await restoreHints({ config, appDir, key }, version)) ctx.printer.err(line);
}
