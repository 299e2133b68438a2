// PURE DATA: Kamal's command vocabulary and what each form means in Berth, so
// `deploy app exec -i --reuse "bin/rails console"`, CI lines written for
// `kamal deploy --skip-push --version $SHA` and aliases all run. Each Kamal
// command path maps to a Berth command path and a rule per Kamal option; a
// form with no Berth meaning is refused naming what to use instead.
// cli/kamal-translate.ts applies this table to a command line.

/** What one Kamal option becomes. */
export type OptionRule =
  | { to: string } // the same meaning under a Berth option (its value carried along)
  | { single: string } // a Kamal list (a,b or wildcards) Berth takes one of
  | { drop: true; note?: string } // accepted, no effect in Berth
  | { refuse: string } // the hint naming what to do instead
  | { lockWait: true }; // Kamal's boolean --lock-wait; Berth's takes the seconds

export interface KamalOption {
  long: string;
  short?: string;
  /** Takes a value (Thor string/numeric options). */
  value: boolean;
}

/** Options every Kamal command takes (Kamal::Cli::Base class options), with their default rule. */
export const KAMAL_GLOBAL_OPTIONS: ReadonlyArray<KamalOption & { rule: OptionRule }> = [
  { long: 'verbose', short: 'v', value: false, rule: { to: '--verbose' } },
  { long: 'quiet', short: 'q', value: false, rule: { drop: true } },
  { long: 'config-file', short: 'c', value: true, rule: { to: '--config' } },
  { long: 'destination', short: 'd', value: true, rule: { to: '--destination' } },
  { long: 'skip-hooks', short: 'H', value: false, rule: { drop: true } },
  { long: 'version', value: true, rule: { refuse: 'only `deploy deploy` (deploy push) and `deploy app boot` take --version: the release and image tag to deploy' } },
  { long: 'primary', short: 'p', value: false, rule: { refuse: 'this command covers every server of the config; use -d DEST to name fewer' } },
  { long: 'hosts', short: 'h', value: true, rule: { refuse: 'this command covers every server of the config; use -d DEST to name fewer' } },
  { long: 'roles', short: 'r', value: true, rule: { refuse: 'this command covers every server of the config; use -d DEST to name fewer' } },
  { long: 'lock-wait', value: false, rule: { drop: true } },
  { long: 'lock-wait-timeout', value: true, rule: { drop: true } },
  { long: 'lock-wait-interval', value: true, rule: { drop: true } },
];

/** Options of single Kamal commands; a name here overrides the global rule. */
export const KAMAL_COMMAND_OPTIONS: Readonly<Record<string, KamalOption>> = {
  'skip-push': { long: 'skip-push', short: 'P', value: false },
  'no-cache': { long: 'no-cache', value: false },
  interactive: { long: 'interactive', short: 'i', value: false },
  reuse: { long: 'reuse', value: false },
  env: { long: 'env', short: 'e', value: true },
  detach: { long: 'detach', value: false },
  raw: { long: 'raw', value: false },
  since: { long: 'since', short: 's', value: true },
  lines: { long: 'lines', short: 'n', value: true },
  grep: { long: 'grep', short: 'g', value: true },
  'grep-options': { long: 'grep-options', value: true },
  follow: { long: 'follow', short: 'f', value: false },
  'skip-timestamps': { long: 'skip-timestamps', short: 'T', value: false },
  'container-id': { long: 'container-id', value: true },
  message: { long: 'message', short: 'm', value: true },
  'drain-timeout': { long: 'drain-timeout', value: true },
  confirmed: { long: 'confirmed', short: 'y', value: false },
  bundle: { long: 'bundle', value: false },
};

export interface KamalCommand {
  /** The Berth command path it runs. */
  berth: readonly string[];
  /** Rules for this command's options, by long name (global ones included when they differ). */
  options?: Readonly<Record<string, OptionRule>>;
  /** Positionals after the first `nameArgs` are the words of a command to run (Kamal joins them and a shell splits them). */
  command?: { nameArgs: number };
  /** Said on stderr each time the form runs. */
  note?: string;
}

export type KamalEntry = KamalCommand | { refuse: string };

const NO_BUILD = 'Berth never builds or pushes images: build and push with docker or your CI, then `deploy push --version TAG`';
const DEPLOY_OPTIONS: Record<string, OptionRule> = {
  'skip-push': { drop: true, note: 'note: --skip-push: Berth never builds or pushes an image; it deploys the one in the registry' },
  'no-cache': { drop: true },
  version: { to: '--version' },
  'lock-wait': { lockWait: true },
  primary: { refuse: 'Berth deploys to every server of the config; use -d DEST for a destination with fewer' },
  hosts: { refuse: 'Berth deploys to every server of the config; use -d DEST for a destination with fewer' },
  roles: { refuse: 'Berth deploys to every server of the config; use -d DEST for a destination with fewer' },
};
const EXEC_OPTIONS: Record<string, OptionRule> = {
  interactive: { to: '--interactive' },
  reuse: { to: '--reuse' },
  roles: { single: '--role' },
  hosts: { single: '--host' },
  primary: { to: '--primary' },
  raw: { drop: true },
  env: { refuse: '`deploy exec` runs with the release\'s env; set the variable inside the command (env KEY=VALUE CMD)' },
  detach: { refuse: 'run it as a cron job (cron: in deploy.yml) or with `deploy exec` in the foreground' },
  version: { refuse: '`deploy exec` runs the current release' },
};
const LOG_OPTIONS: Record<string, OptionRule> = {
  since: { to: '--since' },
  lines: { to: '--lines' },
  grep: { to: '--grep' },
  follow: { to: '--follow' },
  'skip-timestamps': { drop: true },
  'grep-options': { refuse: '--grep takes a JavaScript regular expression; grep\'s options have no equivalent' },
  'container-id': { refuse: '`deploy logs` reads the containers of the current release' },
};
const APP_LOG_OPTIONS: Record<string, OptionRule> = {
  ...LOG_OPTIONS,
  roles: { single: '--role' },
  hosts: { refuse: '`deploy logs` reads every server of the role, each line prefixed by its host: filter with --grep' },
  primary: { refuse: '`deploy logs` reads every server of the role, each line prefixed by its host: filter with --grep' },
};
const APP_STATE_OPTIONS: Record<string, OptionRule> = {
  roles: { to: '--role' },
  hosts: { to: '--host' },
  primary: { refuse: 'name the servers with -h HOSTS (or the roles with -r ROLES)' },
};
const ROUTER = 'the router is part of berth-agent and runs with it (systemctl restart berth-agent on the server); `deploy details` shows its routes';

/** Kamal command path (words joined by a space) → its Berth meaning. */
export const KAMAL_COMMANDS: Readonly<Record<string, KamalEntry>> = {
  deploy: { berth: ['push'], options: DEPLOY_OPTIONS },
  redeploy: { berth: ['push'], options: DEPLOY_OPTIONS },
  setup: { refuse: 'install berth-agent on each server and run `deploy server add HOST`, then `deploy push`' },
  rollback: { berth: ['rollback'], options: { 'lock-wait': { lockWait: true } } },
  details: { berth: ['details'] },
  audit: { berth: ['audit'] },
  config: { berth: ['config'] },
  init: { berth: ['init'], options: { bundle: { refuse: 'Berth is not a gem; run `deploy init` alone' } } },
  remove: { berth: ['remove'], options: { confirmed: { to: '--confirmed' } } },
  docs: { refuse: 'Kamal\'s configuration reference is at https://kamal-deploy.org/docs/configuration; `deploy config` shows what Berth reads from deploy.yml' },
  upgrade: { refuse: 'Kamal 1 to 2 upgrades have no meaning for Berth; `deploy config` names any Kamal 1 key left' },
  'app boot': { berth: ['push'], options: { version: { to: '--version' }, 'lock-wait': { lockWait: true } }, note: 'note: `app boot` deploys the image deploy.yml names (or --version), as `deploy push` does' },
  'app start': { berth: ['start'], options: APP_STATE_OPTIONS },
  'app stop': { berth: ['stop'], options: APP_STATE_OPTIONS },
  'app details': { berth: ['details'] },
  'app containers': { berth: ['status'] },
  'app version': { berth: ['status'] },
  'app images': { refuse: '`deploy releases` lists the images of the releases each server keeps' },
  'app stale_containers': { refuse: 'the agent removes a release\'s old containers itself; `deploy status` shows what runs' },
  'app remove': { refuse: '`deploy remove` removes the service from every server' },
  'app exec': { berth: ['exec'], options: EXEC_OPTIONS, command: { nameArgs: 0 } },
  'app logs': { berth: ['logs'], options: APP_LOG_OPTIONS },
  'app live': { berth: ['live'] },
  'app maintenance': { berth: ['maintenance'], options: { message: { to: '--message' }, 'drain-timeout': { refuse: 'Berth drains with the drain_timeout of deploy.yml' } } },
  'lock acquire': { berth: ['lock', 'acquire'], options: { message: { to: '--message' } } },
  'lock release': { berth: ['lock', 'release'] },
  'lock status': { berth: ['lock', 'status'] },
  'accessory boot': { berth: ['accessory', 'boot'] },
  'accessory reboot': { berth: ['accessory', 'reboot'] },
  'accessory start': { berth: ['accessory', 'start'] },
  'accessory stop': { berth: ['accessory', 'stop'] },
  'accessory restart': { refuse: '`deploy accessory reboot NAME` replaces its container' },
  'accessory details': { berth: ['accessory', 'details'] },
  'accessory logs': { berth: ['accessory', 'logs'], options: LOG_OPTIONS },
  'accessory exec': {
    berth: ['accessory', 'exec'],
    options: { interactive: { to: '--interactive' }, reuse: { drop: true }, raw: { drop: true }, hosts: { single: '--host' } },
    command: { nameArgs: 1 },
  },
  'accessory remove': { berth: ['accessory', 'remove'], options: { confirmed: { to: '--confirmed' } } },
  'accessory upload': { refuse: '`deploy accessory boot|reboot NAME` places its files and directories' },
  'accessory directories': { refuse: '`deploy accessory boot|reboot NAME` places its files and directories' },
  'accessory upgrade': { refuse: 'Kamal 1 to 2 upgrades have no meaning for Berth' },
  'proxy boot': { refuse: ROUTER },
  'proxy reboot': { refuse: ROUTER },
  'proxy start': { refuse: ROUTER },
  'proxy stop': { refuse: ROUTER },
  'proxy restart': { refuse: ROUTER },
  'proxy remove': { refuse: ROUTER },
  'proxy upgrade': { refuse: ROUTER },
  'proxy boot_config': { refuse: ROUTER },
  'proxy logs': { refuse: 'the router logs with berth-agent on the server (journalctl -u berth-agent)' },
  'proxy details': { berth: ['details'] },
  'server bootstrap': { refuse: 'install berth-agent on the server, then `deploy server add HOST`' },
  'server exec': { refuse: 'Berth does not run host commands; use ssh, or `deploy exec` for the app\'s container' },
};

/** Kamal groups with no Berth meaning at all, whatever the subcommand. */
export const KAMAL_GROUPS_REFUSED: Readonly<Record<string, string>> = {
  build: NO_BUILD,
  prune: 'the agent removes old releases itself, keeping retain_containers of them',
  registry: 'agents log in to the registry with registry: from deploy.yml on each deploy; there is nothing to set up',
  secrets: '`kamal secrets fetch|extract` run inside .kamal/secrets, where Berth evaluates them on each deploy',
  env: 'Kamal 2 and Berth send the env with each deploy; there is nothing to push',
  traefik: 'Kamal 1\'s traefik was replaced by kamal-proxy; Berth\'s router is part of berth-agent',
  healthcheck: 'Kamal 1\'s healthcheck command is gone; Berth checks proxy.healthcheck on every deploy',
};

/** Kamal's groups with subcommands: their paths are two words. */
export const KAMAL_GROUPS = new Set(['app', 'accessory', 'lock', 'proxy', 'server', ...Object.keys(KAMAL_GROUPS_REFUSED)]);

/** Kamal's own top-level commands: an alias may not take one of these names (Kamal refuses it in the config). */
export const KAMAL_BUILT_INS: readonly string[] = [
  'accessory', 'app', 'audit', 'build', 'config', 'deploy', 'details', 'docs', 'init', 'lock', 'proxy', 'prune',
  'redeploy', 'registry', 'remove', 'rollback', 'secrets', 'server', 'setup', 'upgrade', 'version',
];
