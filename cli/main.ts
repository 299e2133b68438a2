// The `deploy` CLI's composition root: argv → command, and the one place errors
// are caught and rendered. Exit codes: 0 ok, 1 failed deploy or runtime error,
// 2 usage or config error.

import { isBerthError } from '../shared/errors.js';
import { ownWords, parseCommandLine } from './args.js';
import { configAliases, resolveCommandLine } from './kamal-dispatch.js';
import type { CommandDefinition, ConfigCache, OptionSpecs, OptionsOf } from './command.js';
import keysNewCommand from './commands/keys-new.js';
import keysShowCommand from './commands/keys-show.js';
import serverAddCommand from './commands/server-add.js';
import serverListCommand from './commands/server-list.js';
import serverRemoveCommand from './commands/server-remove.js';
import pushCommand from './commands/push.js';
import rollbackCommand from './commands/rollback.js';
import releasesCommand from './commands/releases.js';
import statusCommand from './commands/status.js';
import detailsCommand from './commands/details.js';
import logsCommand from './commands/logs.js';
import execCommand from './commands/exec.js';
import maintenanceCommand from './commands/maintenance.js';
import liveCommand from './commands/live.js';
import lockStatusCommand from './commands/lock-status.js';
import lockAcquireCommand from './commands/lock-acquire.js';
import lockReleaseCommand from './commands/lock-release.js';
import auditCommand from './commands/audit.js';
import webhookUrlCommand from './commands/webhook-url.js';
import webhookDeliveriesCommand from './commands/webhook-deliveries.js';
import cronListCommand from './commands/cron-list.js';
import cronRunCommand from './commands/cron-run.js';
import cronHistoryCommand from './commands/cron-history.js';
import cronPauseCommand from './commands/cron-pause.js';
import proxyPauseCommand from './commands/proxy-pause.js';
import appStopCommand from './commands/app-stop.js';
import appStartCommand from './commands/app-start.js';
import proxyResumeCommand from './commands/proxy-resume.js';
import cronResumeCommand from './commands/cron-resume.js';
import accessoryDetailsCommand from './commands/accessory-details.js';
import accessoryBootCommand from './commands/accessory-boot.js';
import accessoryRebootCommand from './commands/accessory-reboot.js';
import accessoryStartCommand from './commands/accessory-start.js';
import accessoryStopCommand from './commands/accessory-stop.js';
import accessoryLogsCommand from './commands/accessory-logs.js';
import accessoryExecCommand from './commands/accessory-exec.js';
import accessoryRemoveCommand from './commands/accessory-remove.js';
import backupListCommand from './commands/backup-list.js';
import backupRunCommand from './commands/backup-run.js';
import backupDownloadCommand from './commands/backup-download.js';
import backupRestoreCommand from './commands/backup-restore.js';
import backupKeygenCommand from './commands/backup-keygen.js';
import removeCommand from './commands/remove.js';
import configCommand from './commands/config.js';
import initCommand from './commands/init.js';
import versionCommand from './commands/version.js';
import type { CliEnv } from './env.js';
import { createPrinter, type OutputStream } from './output/printer.js';
import { createStyle, sanitize } from './output/style.js';

/**
 * Every command, in the order the help lists them. A definition is only its
 * spec and a run function that imports its work when it runs, so a push does
 * not pay for loading exec's WebSocket client or the other commands (CLI
 * start-up is most of a push).
 */
export const commands: readonly CommandDefinition[] = [
  keysNewCommand,
  keysShowCommand,
  serverAddCommand,
  serverListCommand,
  serverRemoveCommand,
  pushCommand,
  rollbackCommand,
  releasesCommand,
  statusCommand,
  detailsCommand,
  logsCommand,
  execCommand,
  maintenanceCommand,
  liveCommand,
  lockStatusCommand,
  lockAcquireCommand,
  lockReleaseCommand,
  auditCommand,
  webhookUrlCommand,
  webhookDeliveriesCommand,
  cronListCommand,
  cronRunCommand,
  cronHistoryCommand,
  cronPauseCommand,
  cronResumeCommand,
  proxyPauseCommand,
  proxyResumeCommand,
  appStopCommand,
  appStartCommand,
  accessoryDetailsCommand,
  accessoryBootCommand,
  accessoryRebootCommand,
  accessoryStartCommand,
  accessoryStopCommand,
  accessoryLogsCommand,
  accessoryExecCommand,
  accessoryRemoveCommand,
  backupListCommand,
  backupRunCommand,
  backupDownloadCommand,
  backupRestoreCommand,
  backupKeygenCommand,
  removeCommand,
  configCommand,
  initCommand,
  versionCommand,
];

const USAGE_CODES = new Set(['usage', 'config_invalid']);

export function exitCodeFor(err: unknown): 1 | 2 {
  return isBerthError(err) && USAGE_CODES.has(err.code) ? 2 : 1;
}

/** `error: …` (red on a colour terminal), then `hint: …`; the stack only when asked. */
export function renderError(err: unknown, options: { color: boolean; verbose: boolean }): string {
  const style = createStyle(options.color);
  const known = isBerthError(err);
  const message = err instanceof Error ? err.message : String(err);
  // A config error lists every problem, one per line (cli/config/issues.ts); other messages stay one line.
  const multiline = known && err.code === 'config_invalid';
  const text = multiline ? message.split('\n').map((line) => sanitize(line, 4000)).join('\n') : sanitize(message, 4000);
  const lines = [style.red(`error: ${text}`)];
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
    // Aliases and Kamal's command forms become the Berth command line first.
    const configs: ConfigCache = new Map();
    const resolved = await resolveCommandLine(io.argv, commands, configAliases(io.env.cwd, io.env.processEnv, configs));
    const parsed = parseCommandLine(resolved.argv, commands);
    if (parsed.kind === 'command' && parsed.values.json !== true) for (const note of resolved.notes) io.stderr.write(`${note}\n`);
    if (parsed.kind === 'help') {
      (parsed.exitCode === 0 ? io.stdout : io.stderr).write(parsed.text);
      return parsed.exitCode;
    }
    const wantsJson = parsed.values.json === true;
    const code = await parsed.command.run({
      env: io.env,
      printer: createPrinter(io.stdout, io.stderr),
      style: createStyle(io.env.stdoutIsTTY && !io.env.noColor && !wantsJson),
      json: wantsJson,
      live: io.env.stdoutIsTTY && !wantsJson,
      globals: parsed.globals,
      configs,
      // The parser filled these from this command's own spec, which is what run() is typed by.
      options: parsed.options as OptionsOf<OptionSpecs>,
      positionals: parsed.positionals,
    });
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    if (json) io.stdout.write(renderJsonError(err));
    else io.stderr.write(renderError(err, { color: io.env.stderrIsTTY && !io.env.noColor, verbose }));
    return exitCodeFor(err);
  }
}
