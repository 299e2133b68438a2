// deploy version

import { BERTH_VERSION } from '../../shared/version.js';
import type { RunContext } from '../command.js';

export async function version(ctx: RunContext): Promise<void> {
  if (ctx.json) ctx.printer.json({ version: BERTH_VERSION, node: process.versions.node });
  else ctx.printer.out(`deploy ${BERTH_VERSION}`);
}
