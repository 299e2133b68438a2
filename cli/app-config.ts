// What most commands start from: deploy.yml as the command line names it
// (-c, -d), its warnings on stderr, and the operator key (--key).

import type { ConfigCache, RunContext } from './command.js';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { readKeyFile, resolveKeyPath, type OperatorKeyFile } from './keys.js';

/**
 * deploy.yml as `-c`/`-d` name it, loaded once per command line: the alias
 * lookup (cli/kamal-dispatch.ts) and the command it runs share the load, so
 * ERB, and the commands its backticks run, are rendered once.
 */
export function loadConfigOnce(cache: ConfigCache | undefined, cwd: string, config: string | undefined, destination: string, env: Readonly<Record<string, string | undefined>>): Promise<LoadedConfig> {
  const key = JSON.stringify([cwd, config ?? null, destination]);
  let loaded = cache?.get(key);
  if (!loaded) {
    loaded = loadConfig(cwd, config, destination, env);
    cache?.set(key, loaded);
  }
  return loaded;
}

export async function loadAppConfig(ctx: RunContext): Promise<LoadedConfig> {
  const loaded = await loadConfigOnce(ctx.configs, ctx.env.cwd, ctx.globals.config, ctx.globals.destination ?? '', ctx.env.processEnv);
  for (const warning of loaded.warnings) ctx.printer.err(warning);
  return loaded;
}

export function readOperatorKey(ctx: RunContext): Promise<OperatorKeyFile> {
  return readKeyFile(resolveKeyPath(ctx.env, ctx.globals.key));
}
