// `berth-agent` argument parsing: argv -> a typed command, or the usage asked for.
// Each command's options and help come from its spec here (the router's from
// agent/router/config.ts); agent/main.ts runs the command.
import { DEFAULT_BACKUP_MIN_INTERVAL_S } from './core/backups/policy.js';
import { DEFAULT_CRON_POLICY } from './core/cron/policy.js';
import { SCOPES, type Scope } from '../shared/api-types.js';
import { UserError } from '../shared/errors.js';
import {
  BIN, STATE_DIR_OPTION, parseCommand, renderOverview, renderUsage, usageError, wantsHelp, type CommandSpec, type OptionSpec,
} from './command-spec.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, type AgentFlags } from './config.js';
import { DEFAULT_HEADER_TIMEOUT_S } from './core/connection-budget.js';
import { DEFAULT_ALLOW_BINDS } from './core/guardrails.js';
import { DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE } from './core/logging-policy.js';
import { ROUTER_COMMAND } from './router/config.js';

export type AgentCommand =
  | { cmd: 'help'; text: string }
  | { cmd: 'run'; flags: AgentFlags }
  | { cmd: 'router'; argv: string[] }
  | { cmd: 'init'; flags: AgentFlags; sans: string[]; force: boolean }
  | { cmd: 'trust-add'; flags: AgentFlags; line: string; scope: Scope }
  | { cmd: 'trust-list'; flags: AgentFlags; json: boolean }
  | { cmd: 'trust-remove'; flags: AgentFlags; kid: string }
  | { cmd: 'status'; flags: AgentFlags; json: boolean };

const COMMON = { 'state-dir': STATE_DIR_OPTION } as const;
const LISTEN: OptionSpec = { value: 'IP:PORT', env: 'BERTH_LISTEN', default: '0.0.0.0:7443', description: 'API address' };
const JSON_OPTION: OptionSpec = { description: 'print JSON' };

const RUN_OPTIONS = {
  ...COMMON,
  listen: LISTEN,
  'docker-host': { value: 'URL', env: 'DOCKER_HOST', default: 'unix:///var/run/docker.sock', description: 'Docker engine' },
  'router-socket': { value: 'PATH', env: 'BERTH_ROUTER_SOCKET', default: '/run/berth/router.sock', description: 'router control socket' },
  'webhook-socket': {
    value: 'PATH', env: 'BERTH_WEBHOOK_SOCKET', default: 'webhooks.sock beside the router socket',
    description: 'where the router forwards /.berth/webhooks/ requests',
  },
  network: { value: 'NAME', env: 'BERTH_NETWORK', default: 'berth', description: 'Docker network' },
  'network-subnet': { value: 'CIDR', env: 'BERTH_NETWORK_SUBNET', default: '10.210.0.0/24', description: 'its subnet' },
  'allow-cap': { value: 'CAP', multiple: true, env: 'BERTH_ALLOW_CAPS', default: 'none', description: 'let releases add this capability' },
  'allow-bind': {
    value: 'DIR', multiple: true, env: 'BERTH_ALLOW_BINDS', default: DEFAULT_ALLOW_BINDS.join(' and '),
    description: 'let releases bind-mount host paths under DIR', note: '"none" allows no bind mounts, named volumes always work',
  },
  'allow-publish': {
    value: 'PORTS', multiple: true, env: 'BERTH_ALLOW_PUBLISH', default: 'none',
    description: 'let releases publish these host ports (options.publish)', note: 'all, a port, or a range like 8000-8100',
  },
  'allow-host-control-mounts': {
    env: 'BERTH_ALLOW_HOST_CONTROL_MOUNTS',
    description: 'let releases bind-mount /, the Docker socket, /proc, /sys, /dev, /run, /var/lib/docker: gives containers control of this host',
    note: "=1 in the environment; for log shippers and monitoring agents (Alloy, Promtail); the agent's own state stays refused",
  },
  'allow-log-driver': {
    value: 'NAME', multiple: true, env: 'BERTH_ALLOW_LOG_DRIVERS',
    description: 'let releases use this logging driver', note: 'json-file, local, journald and none are always allowed',
  },
  'allow-log-opt': {
    value: 'KEY', multiple: true, env: 'BERTH_ALLOW_LOG_OPTS',
    description: 'let releases set this option of the drivers allowed above', note: "e.g. syslog-address: its value is the release's",
  },
  'log-max-size': { value: 'SIZE', env: 'BERTH_LOG_MAX_SIZE', default: DEFAULT_LOG_MAX_SIZE, description: "cap of a release's logging max-size" },
  'log-max-file': { value: 'N', env: 'BERTH_LOG_MAX_FILE', default: String(DEFAULT_LOG_MAX_FILES), description: "cap of a release's logging max-file" },
  'log-follow-limit': {
    value: 'S', env: 'BERTH_LOG_FOLLOW_LIMIT', default: '3600', description: 'a log follow stream ends after S seconds; deploy logs -f follows on',
  },
  'max-connections': {
    value: 'N', env: 'BERTH_MAX_CONNECTIONS', default: String(DEFAULT_MAX_CONNECTIONS), description: 'open API connections in total',
    note: 'lowered to keep file descriptors for Docker, the database and the router',
  },
  'max-connections-per-ip': {
    value: 'N', env: 'BERTH_MAX_CONNECTIONS_PER_IP', default: String(DEFAULT_MAX_CONNECTIONS_PER_IP), description: 'per client address, an IPv6 /64 counting as one',
  },
  'header-timeout': {
    value: 'SECONDS', env: 'BERTH_HEADER_TIMEOUT', default: String(DEFAULT_HEADER_TIMEOUT_S), description: 'TLS handshake and request head must arrive within this',
  },
  'cron-min-interval': {
    value: 'S', env: 'BERTH_CRON_MIN_INTERVAL', default: String(DEFAULT_CRON_POLICY.minIntervalS), description: 'refuse cron jobs that run more often than every S seconds',
  },
  'cron-max-jobs': { value: 'N', env: 'BERTH_CRON_MAX_JOBS', default: String(DEFAULT_CRON_POLICY.maxJobs), description: 'cron jobs scheduled on this agent, all services together' },
  'cron-max-running': {
    value: 'N', env: 'BERTH_CRON_MAX_RUNNING', default: String(DEFAULT_CRON_POLICY.maxRunning), description: 'cron runs at once; a run beyond it is skipped and recorded',
  },
  'backup-dir': {
    value: 'PATH', multiple: true, env: 'BERTH_BACKUP_DIRS', default: '<state-dir>/backups',
    description: 'where backup files may be stored (absolute); the first is the default', note: "a backup's path: must lie inside one of them",
  },
  'backup-max-running': { value: 'N', env: 'BERTH_BACKUP_MAX_RUNNING', default: '2', description: 'backups taken at once; a scheduled one beyond it is skipped' },
  'backup-min-interval': {
    value: 'S', env: 'BERTH_BACKUP_MIN_INTERVAL', default: String(DEFAULT_BACKUP_MIN_INTERVAL_S), description: 'refuse backup schedules that run more often than every S seconds',
  },
  'metrics-listen': {
    value: 'IP:PORT', env: 'BERTH_METRICS_LISTEN', default: 'off', description: 'serve Prometheus metrics at GET /metrics here',
    note: 'e.g. 127.0.0.1:9181; any other address is reachable by whoever can reach it',
  },
  'acme-directory': {
    value: 'URL', env: 'BERTH_ACME_DIRECTORY', default: "Let's Encrypt (https://acme-v02.api.letsencrypt.org/directory)",
    description: 'the ACME server certificates for proxy ssl: true come from',
  },
  'acme-email': { value: 'ADDRESS', env: 'BERTH_ACME_EMAIL', default: 'none', description: 'contact address of the ACME account' },
  'acme-ca-file': {
    value: 'PATH', env: 'BERTH_ACME_CA_FILE', default: 'none', description: 'an extra CA (PEM) trusted for the ACME server only (a private ACME server)',
  },
} as const satisfies Record<keyof AgentFlags, OptionSpec>;

const hidden = (options: Record<string, OptionSpec>): Record<string, OptionSpec> =>
  Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { ...o, hidden: true }]));

export const RUN_COMMAND: CommandSpec = { name: 'run', summary: 'serve the agent API and run deploys', options: RUN_OPTIONS };
export const INIT_COMMAND: CommandSpec = {
  name: 'init',
  summary: 'create the identity keys and TLS certificate (kept unless --force)',
  options: {
    ...COMMON,
    san: { value: 'NAME', multiple: true, description: "another name or IP address in the TLS certificate's subject alternative names" },
    force: { description: 'create new keys and a new certificate even if they exist' },
  },
};
export const TRUST_ADD_COMMAND: CommandSpec = {
  name: 'trust add',
  args: "'LINE'",
  summary: "trust an operator key (quote its line: 'berth-ed25519 ...')",
  options: { ...COMMON, scope: { value: SCOPES.join('|'), default: 'deploy', description: 'what the key may do' } },
};
export const TRUST_LIST_COMMAND: CommandSpec = { name: 'trust list', summary: 'list trusted keys', options: { ...COMMON, json: JSON_OPTION } };
export const TRUST_REMOVE_COMMAND: CommandSpec = { name: 'trust remove', args: 'KID', summary: 'stop trusting a key', options: COMMON };
export const STATUS_COMMAND: CommandSpec = {
  name: 'status',
  summary: 'agent id, TLS fingerprint, listen address, trusted keys',
  // run's options are accepted so status can be given run's command line.
  options: { ...hidden(RUN_OPTIONS), ...COMMON, listen: LISTEN, json: JSON_OPTION },
  notes: [`The other options of ${BIN} run are accepted and ignored.`],
};

const TRUST_COMMANDS = [TRUST_ADD_COMMAND, TRUST_LIST_COMMAND, TRUST_REMOVE_COMMAND];
/** Every command, in the order the general usage lists them. */
export const AGENT_COMMANDS: readonly CommandSpec[] = [RUN_COMMAND, ROUTER_COMMAND, INIT_COMMAND, ...TRUST_COMMANDS, STATUS_COMMAND];

export function usage(): string {
  return renderOverview(AGENT_COMMANDS, COMMON);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

function noPositionals(spec: CommandSpec, positionals: string[]): void {
  if (positionals.length > 0) throw usageError(spec, `unexpected argument "${positionals[0]}"`);
}

/** `help`, `help COMMAND...`, `COMMAND... --help`: the usage of what the words name. */
function helpFor(words: string[]): AgentCommand {
  // The command is the longest spec name the words start with (`trust add 'LINE' --help`).
  const spec = AGENT_COMMANDS.filter((s) => s.name.split(' ').every((w, i) => words[i] === w))
    .sort((a, b) => b.name.length - a.name.length)[0];
  if (spec) return { cmd: 'help', text: renderUsage(spec) };
  if (words[0] === 'trust') return { cmd: 'help', text: renderOverview(TRUST_COMMANDS, COMMON, `${BIN} trust COMMAND`) };
  if (words.length === 0) return { cmd: 'help', text: usage() };
  throw new UserError(`unknown command "${words.join(' ').slice(0, 40)}"`, `see ${BIN} --help`, 'usage');
}

export function parseAgentArgs(argv: string[]): AgentCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help') return helpFor(rest);
  if (wantsHelp(argv)) {
    // The words before the first option name the command (`trust add --help`).
    const firstOption = argv.findIndex((w) => w.startsWith('-'));
    return helpFor(argv.slice(0, firstOption === -1 ? argv.length : firstOption));
  }
  switch (command) {
    case 'router': {
      // Checked here so a wrong option is a usage error (exit 2); the router reads its config itself.
      noPositionals(ROUTER_COMMAND, parseCommand(ROUTER_COMMAND, rest).positionals);
      return { cmd: 'router', argv: rest };
    }
    case 'run': {
      const { values, positionals } = parseCommand(RUN_COMMAND, rest);
      noPositionals(RUN_COMMAND, positionals);
      // RUN_OPTIONS has exactly AgentFlags' keys; the repeatable ones are lists.
      const flags = Object.fromEntries(
        Object.entries(RUN_OPTIONS).map(([name, o]) => [
          name,
          'multiple' in o ? strs(values[name]) : 'value' in o ? str(values[name]) : values[name] === true ? 'true' : undefined,
        ]),
      ) as AgentFlags;
      return { cmd: 'run', flags };
    }
    case 'init': {
      const { values, positionals } = parseCommand(INIT_COMMAND, rest);
      noPositionals(INIT_COMMAND, positionals);
      return { cmd: 'init', flags: { 'state-dir': str(values['state-dir']) }, sans: strs(values.san) ?? [], force: values.force === true };
    }
    case 'trust':
      return parseTrust(rest);
    case 'status': {
      const { values, positionals } = parseCommand(STATUS_COMMAND, rest);
      noPositionals(STATUS_COMMAND, positionals);
      return {
        cmd: 'status',
        flags: { 'state-dir': str(values['state-dir']), listen: str(values.listen) },
        json: values.json === true,
      };
    }
    default:
      throw new UserError(`unknown command "${command.slice(0, 40)}"`, `see ${BIN} --help`, 'usage');
  }
}

function parseTrust(argv: string[]): AgentCommand {
  const [action, ...rest] = argv;
  switch (action) {
    case 'add': {
      const { values, positionals } = parseCommand(TRUST_ADD_COMMAND, rest);
      const [line, extra] = positionals;
      if (line === undefined || extra !== undefined) {
        throw new UserError(`${BIN} trust add takes exactly one key line (quote it: 'berth-ed25519 ...')`, `see ${BIN} trust add --help`, 'usage');
      }
      const scope = str(values.scope) ?? 'deploy';
      if (!(SCOPES as readonly string[]).includes(scope)) {
        throw new UserError(`--scope must be one of ${SCOPES.join(', ')}`, undefined, 'usage');
      }
      return { cmd: 'trust-add', flags: { 'state-dir': str(values['state-dir']) }, line, scope: scope as Scope };
    }
    case 'list': {
      const { values, positionals } = parseCommand(TRUST_LIST_COMMAND, rest);
      noPositionals(TRUST_LIST_COMMAND, positionals);
      return { cmd: 'trust-list', flags: { 'state-dir': str(values['state-dir']) }, json: values.json === true };
    }
    case 'remove': {
      const { values, positionals } = parseCommand(TRUST_REMOVE_COMMAND, rest);
      const [kid, extra] = positionals;
      if (kid === undefined || extra !== undefined) throw new UserError(`${BIN} trust remove takes one key id`, `see ${BIN} trust remove --help`, 'usage');
      return { cmd: 'trust-remove', flags: { 'state-dir': str(values['state-dir']) }, kid };
    }
    default:
      throw new UserError(`${BIN} trust needs add, list or remove`, `see ${BIN} trust --help`, 'usage');
  }
}
