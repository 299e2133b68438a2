// `berth-agent` argument parsing: argv -> a typed command, and the usage text.
// Parsing only; agent/main.ts runs the command.
import { parseArgs } from 'node:util';
import { SCOPES, type Scope } from '../shared/api-types.js';
import { UserError } from '../shared/errors.js';
import type { AgentFlags } from './config.js';

export type AgentCommand =
  | { cmd: 'help' }
  | { cmd: 'run'; flags: AgentFlags }
  | { cmd: 'router'; argv: string[] }
  | { cmd: 'init'; flags: AgentFlags; sans: string[]; force: boolean }
  | { cmd: 'trust-add'; flags: AgentFlags; line: string; scope: Scope }
  | { cmd: 'trust-list'; flags: AgentFlags; json: boolean }
  | { cmd: 'trust-remove'; flags: AgentFlags; kid: string }
  | { cmd: 'status'; flags: AgentFlags; json: boolean };

export function usage(): string {
  return `usage: berth-agent <command> [options]

commands:
  run                     serve the agent API and run deploys
  router                  run the HTTP router (see berth-agent router --help)
  init [--san NAME]...    create the identity keys and TLS certificate (kept unless --force)
  trust add 'LINE' [--scope read|deploy|admin]   trust an operator key (default scope deploy)
  trust list [--json]     list trusted keys
  trust remove KID        stop trusting a key
  status [--json]         agent id, TLS fingerprint, listen address, trusted keys

options (all commands):
  --state-dir DIR         state directory (BERTH_STATE_DIR, default /var/lib/berth)

options (run):
  --listen IP:PORT        API address (BERTH_LISTEN, default 0.0.0.0:7443)
  --docker-host URL       Docker engine (DOCKER_HOST, default unix:///var/run/docker.sock)
  --router-socket PATH    router control socket (BERTH_ROUTER_SOCKET, default /run/berth/router.sock)
  --network NAME          Docker network (BERTH_NETWORK, default berth)
  --network-subnet CIDR   its subnet (BERTH_NETWORK_SUBNET, default 10.210.0.0/24)
  --allow-cap CAP         let releases add this capability (repeat; BERTH_ALLOW_CAPS=A,B; default none)
  --allow-bind DIR        let releases bind-mount host paths under DIR (repeat; BERTH_ALLOW_BINDS=A,B;
                          default /data and /srv; "none" allows no bind mounts, named volumes always work)
  --allow-log-driver NAME let releases use this logging driver (repeat; BERTH_ALLOW_LOG_DRIVERS=A,B;
                          json-file, local, journald and none are always allowed)
  --allow-log-opt KEY     let releases set this option of the drivers allowed above (repeat;
                          BERTH_ALLOW_LOG_OPTS=A,B; e.g. syslog-address: its value is the release's)
  --log-max-size SIZE     cap of a release's logging max-size (BERTH_LOG_MAX_SIZE, default 100m)
  --log-max-file N        cap of a release's logging max-file (BERTH_LOG_MAX_FILE, default 10)
  --log-follow-limit S    a log follow stream ends after S seconds; deploy logs -f follows on
                          (BERTH_LOG_FOLLOW_LIMIT, default 3600)
  --max-connections N     open API connections in total (BERTH_MAX_CONNECTIONS, default 512;
                          lowered to keep file descriptors for Docker, the database and the router)
  --max-connections-per-ip N   per client address, an IPv6 /64 counting as one
                          (BERTH_MAX_CONNECTIONS_PER_IP, default 32)
  --header-timeout SECONDS     TLS handshake and request head must arrive within this
                          (BERTH_HEADER_TIMEOUT, default 20)
`;
}

const COMMON = { 'state-dir': { type: 'string' } } as const;
const RUN_OPTIONS = {
  ...COMMON,
  listen: { type: 'string' },
  'docker-host': { type: 'string' },
  'router-socket': { type: 'string' },
  network: { type: 'string' },
  'network-subnet': { type: 'string' },
  'allow-cap': { type: 'string', multiple: true },
  'allow-bind': { type: 'string', multiple: true },
  'allow-log-driver': { type: 'string', multiple: true },
  'allow-log-opt': { type: 'string', multiple: true },
  'log-max-size': { type: 'string' },
  'log-max-file': { type: 'string' },
  'log-follow-limit': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-connections-per-ip': { type: 'string' },
  'header-timeout': { type: 'string' },
} as const;

type Options = Parameters<typeof parseArgs>[0] extends infer C ? (C extends { options?: infer O } ? NonNullable<O> : never) : never;

function parse(args: string[], options: Options, what: string): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, strict: true, allowPositionals: true });
    return { values: r.values as Record<string, unknown>, positionals: r.positionals };
  } catch (e) {
    throw new UserError(`berth-agent ${what}: ${(e as Error).message}`, 'see berth-agent --help', 'usage');
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strs = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

function noPositionals(positionals: string[], what: string): void {
  if (positionals.length > 0) throw new UserError(`berth-agent ${what}: unexpected argument "${positionals[0]}"`, 'see berth-agent --help', 'usage');
}

export function parseAgentArgs(argv: string[]): AgentCommand {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { cmd: 'help' };
    case 'router':
      return { cmd: 'router', argv: rest };
    case 'run': {
      const { values, positionals } = parse(rest, RUN_OPTIONS, 'run');
      noPositionals(positionals, 'run');
      return {
        cmd: 'run',
        flags: {
          'state-dir': str(values['state-dir']),
          listen: str(values.listen),
          'docker-host': str(values['docker-host']),
          'router-socket': str(values['router-socket']),
          network: str(values.network),
          'network-subnet': str(values['network-subnet']),
          'allow-cap': strs(values['allow-cap']),
          'allow-bind': strs(values['allow-bind']),
          'allow-log-driver': strs(values['allow-log-driver']),
          'allow-log-opt': strs(values['allow-log-opt']),
          'log-max-size': str(values['log-max-size']),
          'log-max-file': str(values['log-max-file']),
          'log-follow-limit': str(values['log-follow-limit']),
          'max-connections': str(values['max-connections']),
          'max-connections-per-ip': str(values['max-connections-per-ip']),
          'header-timeout': str(values['header-timeout']),
        },
      };
    }
    case 'init': {
      const { values, positionals } = parse(
        rest,
        { ...COMMON, san: { type: 'string', multiple: true }, force: { type: 'boolean' } },
        'init',
      );
      noPositionals(positionals, 'init');
      const sans = (values.san as string[] | undefined) ?? [];
      return { cmd: 'init', flags: { 'state-dir': str(values['state-dir']) }, sans, force: values.force === true };
    }
    case 'trust':
      return parseTrust(rest);
    case 'status': {
      const { values, positionals } = parse(rest, { ...RUN_OPTIONS, json: { type: 'boolean' } }, 'status');
      noPositionals(positionals, 'status');
      return {
        cmd: 'status',
        flags: { 'state-dir': str(values['state-dir']), listen: str(values.listen) },
        json: values.json === true,
      };
    }
    default:
      throw new UserError(`unknown command "${command.slice(0, 40)}"`, 'see berth-agent --help', 'usage');
  }
}

function parseTrust(argv: string[]): AgentCommand {
  const [action, ...rest] = argv;
  switch (action) {
    case 'add': {
      const { values, positionals } = parse(rest, { ...COMMON, scope: { type: 'string' } }, 'trust add');
      const [line, extra] = positionals;
      if (line === undefined || extra !== undefined) {
        throw new UserError("berth-agent trust add takes exactly one key line (quote it: 'berth-ed25519 ...')", undefined, 'usage');
      }
      const scope = str(values.scope) ?? 'deploy';
      if (!(SCOPES as readonly string[]).includes(scope)) {
        throw new UserError(`--scope must be one of ${SCOPES.join(', ')}`, undefined, 'usage');
      }
      return { cmd: 'trust-add', flags: { 'state-dir': str(values['state-dir']) }, line, scope: scope as Scope };
    }
    case 'list': {
      const { values, positionals } = parse(rest, { ...COMMON, json: { type: 'boolean' } }, 'trust list');
      noPositionals(positionals, 'trust list');
      return { cmd: 'trust-list', flags: { 'state-dir': str(values['state-dir']) }, json: values.json === true };
    }
    case 'remove': {
      const { values, positionals } = parse(rest, COMMON, 'trust remove');
      const [kid, extra] = positionals;
      if (kid === undefined || extra !== undefined) throw new UserError('berth-agent trust remove takes one key id', undefined, 'usage');
      return { cmd: 'trust-remove', flags: { 'state-dir': str(values['state-dir']) }, kid };
    }
    default:
      throw new UserError('berth-agent trust needs add, list or remove', 'see berth-agent --help', 'usage');
  }
}
