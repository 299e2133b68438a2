// deploy config: the merged, validated deploy.yml (with -d, the destination
// merged in), as Kamal would run it; secrets by name, never by value.

import { loadAppConfig } from '../app-config.js';
import type { RunContext } from '../command.js';
import { KAMAL_COMPAT_VERSION } from '../config/schema.js';
import { configView } from '../config/view.js';
import { stringifyYaml } from '../config/yaml.js';

export async function showConfig(ctx: RunContext): Promise<void> {
  const { config, files, hints } = await loadAppConfig(ctx);
  // Hints are advice about the config, not part of it: stderr, so stdout stays the merged config.
  for (const hint of hints) ctx.printer.err(hint);
  const view = configView(config, files);
  if (ctx.json) ctx.printer.json(view);
  else ctx.printer.out(`# read as a Kamal ${KAMAL_COMPAT_VERSION} configuration\n${stringifyYaml(view)}`);
}
