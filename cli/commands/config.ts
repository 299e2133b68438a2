// deploy config: the merged, validated deploy.yml (with -d, the destination
// merged in), as Kamal would run it; secrets by name, never by value.

import { loadConfig, type LoadedConfig } from '../config/load.js';
import { configView } from '../config/view.js';
import { stringifyYaml } from '../config/yaml.js';
import { stringOption, type CommandContext } from './context.js';

/** Loads deploy.yml as the command line says (-c, -d) and prints its warnings on stderr. */
export async function loadAppConfig(ctx: CommandContext): Promise<LoadedConfig> {
  const loaded = await loadConfig(ctx.env.cwd, stringOption(ctx, 'config'), stringOption(ctx, 'destination') ?? '');
  for (const warning of loaded.warnings) ctx.printer.err(warning);
  return loaded;
}

export async function configCommand(ctx: CommandContext): Promise<void> {
  const { config, files } = await loadAppConfig(ctx);
  const view = configView(config, files);
  if (ctx.json) ctx.printer.json(view);
  else ctx.printer.out(stringifyYaml(view));
}
