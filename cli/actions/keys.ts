// deploy keys new | show

import { createKeyFile, defaultKeyComment, readKeyFile, resolveKeyPath } from '../keys.js';
import type { RunContext } from '../command.js';

/** Only the public key line goes to stdout, so `$(deploy keys new)` captures exactly it. */
export async function keysNew(ctx: RunContext, options: { comment: string | undefined; force: boolean }): Promise<void> {
  const path = resolveKeyPath(ctx.env, ctx.globals.key);
  const key = await createKeyFile(path, options.comment ?? defaultKeyComment(), options.force);
  if (ctx.json) {
    ctx.printer.json({ path: key.path, kid: key.kid, line: key.line });
    return;
  }
  ctx.printer.out(key.line);
  ctx.printer.err(`private key written to ${key.path} (key id ${key.kid})`);
  ctx.printer.err('trust it on a server with: berth-agent trust add "<the line above>"');
}

export async function keysShow(ctx: RunContext): Promise<void> {
  const key = await readKeyFile(resolveKeyPath(ctx.env, ctx.globals.key));
  if (ctx.json) ctx.printer.json({ path: key.path, kid: key.kid, line: key.line });
  else ctx.printer.out(key.line);
}
