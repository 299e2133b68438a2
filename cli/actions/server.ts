// deploy server add | list | remove — the pins in .berth/known_agents.

import { NotFoundError, UserError } from '../../shared/errors.js';
import { DEFAULT_AGENT_PORT, formatServerAddress, parseServerAddress, type ServerAddress } from '../address.js';
import { findConfigFile, loadConfigFile } from '../config/load.js';
import { normalizeFingerprint } from '../fingerprint.js';
import { knownAgentsPath, readKnownAgents, recordKnownAgent, removeKnownAgent } from '../agent-api/known-agents.js';
import { renderTable } from '../output/table.js';
import { discoverAgent } from '../agent-api/pinning.js';
import type { RunContext } from '../command.js';

/** The app dir and agent port: from deploy.yml when there is one, else the current directory and 7443. */
async function appSettings(ctx: RunContext): Promise<{ appDir: string; agentPort: number }> {
  const found = await findConfigFile(ctx.env.cwd, ctx.globals.config);
  if (!found) return { appDir: ctx.env.cwd, agentPort: DEFAULT_AGENT_PORT };
  const { config, appDir } = await loadConfigFile(found.file, found.appDir, ctx.env.cwd, '', ctx.env.processEnv);
  return { appDir, agentPort: config.agent.port };
}

function addressArgument(text: string, defaultPort: number): ServerAddress {
  try {
    return parseServerAddress(text, defaultPort);
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : 'invalid server', 'usage: deploy server add HOST[:PORT]', 'usage');
  }
}

export async function serverAdd(ctx: RunContext, options: { address: string; replace: boolean; fingerprint: string | undefined }): Promise<void> {
  const { appDir, agentPort } = await appSettings(ctx);
  const address = addressArgument(options.address, agentPort);
  const expected = options.fingerprint;
  const discovered = await discoverAgent(address, expected === undefined ? {} : { expectedFingerprint: normalizeFingerprint(expected) });
  const outcome = await recordKnownAgent(appDir, discovered.label, discovered.entry, { replace: options.replace });
  const { claims } = discovered;
  if (ctx.json) {
    ctx.printer.json({ host: discovered.label, agent_id: claims.agent_id, tls_fingerprint: discovered.entry.tls_fingerprint, version: claims.version, features: claims.features, outcome });
    return;
  }
  ctx.printer.out(`${discovered.label}\n  agent id:     ${claims.agent_id}\n  fingerprint:  SHA256 ${discovered.entry.tls_fingerprint}\n  version:      ${claims.version}`);
  const what = outcome === 'added' ? 'pinned in' : outcome === 'replaced' ? 'pin replaced in' : 'already pinned in';
  ctx.printer.err(`${what} ${knownAgentsPath(appDir)}; compare the fingerprint with \`berth-agent status\` on the server`);
}

export async function serverList(ctx: RunContext): Promise<void> {
  const { appDir } = await appSettings(ctx);
  const agents = await readKnownAgents(appDir);
  const entries = Object.entries(agents);
  if (ctx.json) {
    ctx.printer.json({ servers: entries.map(([host, a]) => ({ host, agent_id: a.agent_id, tls_fingerprint: a.tls_fingerprint, added_at: a.added_at })) });
    return;
  }
  if (entries.length === 0) {
    ctx.printer.err(`no pinned servers in ${knownAgentsPath(appDir)}; add one with \`deploy server add HOST\``);
    return;
  }
  ctx.printer.out(renderTable(['HOST', 'AGENT ID', 'FINGERPRINT (SHA256)', 'ADDED'], entries.map(([host, a]) => [host, a.agent_id, a.tls_fingerprint, a.added_at])));
}

export async function serverRemove(ctx: RunContext, options: { address: string }): Promise<void> {
  const { appDir, agentPort } = await appSettings(ctx);
  const label = formatServerAddress(addressArgument(options.address, agentPort));
  if (!(await removeKnownAgent(appDir, label))) {
    throw new NotFoundError(`${label} is not in ${knownAgentsPath(appDir)}`, 'see the pinned servers with `deploy server list`');
  }
  if (ctx.json) ctx.printer.json({ host: label, removed: true });
  else ctx.printer.err(`removed ${label} from ${knownAgentsPath(appDir)}`);
}
