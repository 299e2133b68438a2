// A Kamal-style cron role (its cmd runs cron -f, crond or supercronic) keeps
// working as a plain role; `deploy config` points at the `cron:` key, which
// runs each job with the role's env, on one host, and reports failures.

import type { DeployConfig } from './types.js';

// `cron -f` (Debian's cron in the foreground), busybox/Alpine `crond`, or supercronic.
const CRON_DAEMON = /(?:^|[\s;&|(/])(?:cron\s+-[a-zA-Z]*f|crond|supercronic)(?=$|[\s;&|)])/;

/** Whether a role's command words start a cron daemon in the container. */
export function runsCronDaemon(cmd: readonly string[] | undefined): boolean {
  return cmd !== undefined && CRON_DAEMON.test(cmd.join(' '));
}

/** One `hint:` line per role that runs a cron daemon, showing the `cron:` equivalent. */
export function cronRoleHints(config: Pick<DeployConfig, 'roles'>): string[] {
  return config.roles
    .filter((role) => runsCronDaemon(role.cmd))
    .map((role) => `hint: role ${role.name} runs cron in the container; Berth can schedule its jobs itself: cron: { NAME: { schedule: "...", command: "...", role: ${role.name} } }`);
}
