// What most commands start from: deploy.yml as the command line names it
// (-c, -d), its warnings on stderr, and the operator key (--key).

import type { RunContext } from './command.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { readKeyFile, resolveKeyPath, type OperatorKeyFile } from './keys.js';

export async function loadAppConfig(ctx: RunContext): Promise<LoadedConfig> {
  const loaded = await loadConfig(ctx.env.cwd, ctx.globals.config, ctx.globals.destination ?? '', ctx.env.processEnv);
  for (const warning of loaded.warnings) ctx.printer.err(warning);
  return loaded;
}

export function readOperatorKey(ctx: RunContext): Promise<OperatorKeyFile> {
  return readKeyFile(resolveKeyPath(ctx.env, ctx.globals.key));
}
