#!/usr/bin/env node
// The `deploy` CLI's composition root: argv → command, and the one place errors
// are caught and rendered. Exit codes: 0 ok, 1 failed deploy or runtime error,
// 2 usage or config error.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isBerthError } from '../shared/errors.js';
import { ownWords, parseCommandLine } from './args.js';
import type { CommandContext } from './commands/context.js';
import { readCliEnv, type CliEnv } from './env.js';
import { createPrinter, type OutputStream } from './output/printer.js';
import { createStyle, sanitize } from './output/style.js';

type Handler = (ctx: CommandContext) => Promise<void | number>;

/**
 * A handler may answer an exit code (exec passes on the command's). Each is
 * loaded when its command runs, so a push does not pay for loading exec's
 * WebSocket client or the other commands (CLI start-up is most of a push).
 */
const handlers: Record<string, () => Promise<Handler>> = {
  'keys new': async () => (await import('./commands/keys.js')).keysNewCommand,
  'keys show': async () => (await import('./commands/keys.js')).keysShowCommand,
  'server add': async () => (await import('./commands/server.js')).serverAddCommand,
  'server list': async () => (await import('./commands/server.js')).serverListCommand,
  'server remove': async () => (await import('./commands/server.js')).serverRemoveCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  rollback: async () => (await import('./commands/rollback.js')).rollbackCommand,
  releases: async () => (await import('./commands/releases.js')).releasesCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  init: async () => (await import('./commands/init.js')).initCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  maintenance: async () => (await import('./commands/maintenance.js')).maintenanceCommand,
  live: async () => (await import('./commands/maintenance.js')).liveCommand,
  details: async () => (await import('./commands/details.js')).detailsCommand,
  'lock status': async () => (await import('./commands/lock.js')).lockStatusCommand,
  'lock acquire': async () => (await import('./commands/lock.js')).lockAcquireCommand,
  'lock release': async () => (await import('./commands/lock.js')).lockReleaseCommand,
  audit: async () => (await import('./commands/audit.js')).auditCommand,
  remove: async () => (await import('./commands/remove.js')).removeCommand,
  version: async () => (await import('./commands/version.js')).versionCommand,
  logs: async () => (await import('./commands/logs.js')).logsCommand,
  exec: async () => (await import('./commands/exec.js')).execCommand,
};

/** The handler of a command (`server add`); undefined for a name no handler is written for. */
export async function loadHandler(name: string): Promise<Handler | undefined> {
  return Object.hasOwn(handlers, name) ? (handlers[name] as () => Promise<Handler>)() : undefined;
}

const USAGE_CODES = new Set(['usage', 'config_invalid']);

export function exitCodeFor(err: unknown): 1 | 2 {
  return isBerthError(err) && USAGE_CODES.has(err.code) ? 2 : 1;
}

/** `error: …` (red on a colour terminal), then `hint: …`; the stack only when asked. */
export function renderError(err: unknown, options: { color: boolean; verbose: boolean }): string {
  const style = createStyle(options.color);
  const known = isBerthError(err);
  const message = err instanceof Error ? err.message : String(err);
  const lines = [style.red(`error: ${sanitize(message, 4000)}`)];
  const hint = known ? err.hint : 'this looks like a bug in deploy; run again with --verbose and report the output';
  if (hint) lines.push(`hint: ${sanitize(hint, 2000)}`);
  if (options.verbose && err instanceof Error && err.stack) lines.push(style.dim(err.stack));
  return lines.join('\n') + '\n';
}

export function renderJsonError(err: unknown): string {
  const body = isBerthError(err)
    ? err.toBody()
    : { error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
  return JSON.stringify(body) + '\n';
}

export interface MainIo {
  argv: string[];
  env: CliEnv;
  stdout: OutputStream;
  stderr: OutputStream;
}

export async function main(io: MainIo): Promise<number> {
  const own = ownWords(io.argv);
  const json = own.includes('--json');
  const verbose = own.includes('--verbose');
  try {
    const parsed = parseCommandLine(io.argv);
    if (parsed.kind === 'help') {
      (parsed.exitCode === 0 ? io.stdout : io.stderr).write(parsed.text);
      return parsed.exitCode;
    }
    const handler = await loadHandler(parsed.name);
    if (!handler) throw new Error(`no handler for ${parsed.name}`);
    const wantsJson = parsed.values.json === true;
    const ctx: CommandContext = {
      env: io.env,
      printer: createPrinter(io.stdout, io.stderr),
      style: createStyle(io.env.stdoutIsTTY && !io.env.noColor && !wantsJson),
      json: wantsJson,
      live: io.env.stdoutIsTTY && !wantsJson,
      values: parsed.values,
      positionals: parsed.positionals,
    };
    const code = await handler(ctx);
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    if (json) io.stdout.write(renderJsonError(err));
    else io.stderr.write(renderError(err, { color: io.env.stderrIsTTY && !io.env.noColor, verbose }));
    return exitCodeFor(err);
  }
}

function invokedAsProgram(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedAsProgram()) {
  process.exitCode = await main({ argv: process.argv.slice(2), env: readCliEnv(), stdout: process.stdout, stderr: process.stderr });
}
