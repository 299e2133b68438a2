// deploy version

import { BERTH_VERSION } from '../../shared/version.js';
import type { CommandContext } from './context.js';

export async function versionCommand(ctx: CommandContext): Promise<void> {
  if (ctx.json) ctx.printer.json({ version: BERTH_VERSION, node: process.versions.node });
  else ctx.printer.out(`deploy ${BERTH_VERSION}`);
}
