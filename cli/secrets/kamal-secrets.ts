// `$(kamal secrets fetch …)`, `$(kamal secrets extract …)` and
// `$(kamal secrets print)` in a secrets file run built in, never through a
// shell and never needing Kamal: Kamal itself does not run these through the
// shell either but calls its own CLI (after `$VAR` expansion, split with Ruby's
// Shellwords). So the same lines work whether or not Kamal is installed.
//
// fetch drives a vendor CLI (adapters/) and yields its JSON shell-escaped, as
// Kamal's inline mode does; extract splits that back out and finds a key by
// its full name or by its last path segment.

import { ConfigError } from '../../shared/errors.js';
import { fail, isRecord, type Fetched, type Vendor, type VendorRun } from './adapters/base.js';
import { lookupAdapter } from './adapters/index.js';
import { runProgram, type ProgramRequest } from './run-command.js';
import { rubyShellEscape, rubyShellSplit } from './shellwords.js';
import type { CommandRequest, CommandResult, RunCommand } from './substitute.js';

/** Kamal's test for a command it runs itself rather than through the shell. */
export const KAMAL_SECRETS_COMMAND = /^\s*kamal\s*secrets\s+/;

/** What a vendor CLI may print: whole items with their metadata, so more than one value. */
export const VENDOR_MAX_OUTPUT_BYTES = 1024 * 1024;

export type SpawnProgram = (file: string, args: readonly string[], request: ProgramRequest) => Promise<CommandResult>;

// Kamal's options for every command, which change nothing here but are accepted as Kamal accepts them.
const CLASS_VALUE_OPTIONS = new Set(['--version', '-h', '--hosts', '-r', '--roles', '-c', '--config-file', '-d', '--destination', '--lock-wait-timeout', '--lock-wait-interval']);
const CLASS_SWITCHES = new Set(['-v', '--verbose', '-q', '--quiet', '-p', '--primary', '-H', '--skip-hooks', '--lock-wait', '--inline', '--no-inline']);
const FETCH_OPTIONS: Record<string, 'adapter' | 'account' | 'from'> = { '--adapter': 'adapter', '-a': 'adapter', '--account': 'account', '--from': 'from' };

interface Parsed {
  args: string[];
  options: Partial<Record<'adapter' | 'account' | 'from', string>>;
}

/** Thor's option forms: `--name value`, `--name=value`, `-a value`, `-a=value`, `-avalue`; `--` ends options. */
function parseOptions(words: readonly string[], fetch: boolean): Parsed {
  const parsed: Parsed = { args: [], options: {} };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--') {
      parsed.args.push(...words.slice(i + 1));
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      parsed.args.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    let name = eq === -1 ? word : word.slice(0, eq);
    let inline = eq === -1 ? undefined : word.slice(eq + 1);
    if (!word.startsWith('--') && name.length > 2) {
      inline = word.slice(2).replace(/^=/, '');
      name = word.slice(0, 2);
    }
    const key = fetch && Object.hasOwn(FETCH_OPTIONS, name) ? FETCH_OPTIONS[name] : undefined;
    if (CLASS_SWITCHES.has(name) && inline === undefined) continue;
    if (key === undefined && !CLASS_VALUE_OPTIONS.has(name)) {
      fail(`unknown option ${/^-{1,2}[\w-]{1,40}$/.test(name) ? name : '(not shown)'}`, fetch ? 'fetch takes --adapter/-a, --account and --from, as in Kamal' : 'extract takes a secret name and the output of fetch');
    }
    let value = inline;
    if (value === undefined) {
      const next = words[i + 1];
      if (next === undefined || next.startsWith('-')) fail(`No value provided for option '${name}'`);
      value = next;
      i++;
    }
    if (key !== undefined) parsed.options[key] = value;
  }
  return parsed;
}

function vendorFor(program: string, title: string, request: CommandRequest, spawn: SpawnProgram, deadline: number): Vendor {
  return {
    program,
    env: request.env,
    async run(args, extraEnv): Promise<VendorRun> {
      const timeoutMs = deadline - Date.now();
      const seconds = request.timeoutMs >= 1000 ? `${Math.round(request.timeoutMs / 1000)} s` : `${request.timeoutMs} ms`;
      const late = () => fail(`${program} did not finish within ${seconds}`, `Berth runs ${program} without a terminal (stdin closed), so a sign-in prompt waits forever: sign in before running deploy`);
      if (timeoutMs <= 0) late();
      const result = await spawn(program, args, { cwd: request.cwd, env: { ...request.env, ...extraEnv }, timeoutMs, maxOutputBytes: VENDOR_MAX_OUTPUT_BYTES });
      switch (result.kind) {
        case 'ok':
          return { ok: true, code: 0, stdout: result.stdout };
        case 'exit':
          return { ok: false, code: result.code, stdout: '' };
        case 'timeout':
          return late();
        case 'too_large':
          return fail(`${program} printed more than ${VENDOR_MAX_OUTPUT_BYTES / 1024 / 1024} MiB`, 'fetch fewer items at a time');
        case 'not_text':
          return fail(`${program} printed bytes that are not UTF-8 text`);
        case 'spawn_failed':
          if (result.reason === 'ENOENT') return fail(`${title} CLI is not installed: ${program} is not on PATH`, `install ${program} (the ${title} CLI) or add it to PATH; Berth calls it as Kamal does`);
          return fail(`${program} could not be started (${result.reason})`);
        case 'failed':
          return fail(result.message, result.hint);
      }
    },
  };
}

async function fetch(words: string[], request: CommandRequest, spawn: SpawnProgram): Promise<string> {
  const { args, options } = parseOptions(words, true);
  if (options.adapter === undefined) fail("No value provided for required options '--adapter'", 'for example --adapter 1password');
  const found = lookupAdapter(options.adapter);
  if (!found.ok) fail(found.message, found.hint);
  const adapter = found.adapter;
  if (adapter.requiresAccount && !options.account) fail(`the ${adapter.title} adapter needs --account`, "as in Kamal: No value provided for required options '--account'");
  const vendor = vendorFor(adapter.program, adapter.title, request, spawn, Date.now() + request.timeoutMs);
  if (adapter.program !== '') {
    const versionArgs = adapter.versionArgs ?? ['--version'];
    const version = await vendor.run(versionArgs);
    if (!version.ok) fail(`${adapter.title} CLI is not installed: \`${[adapter.program, ...versionArgs].join(' ')}\` failed${version.code === null ? '' : ` with exit status ${version.code}`}`, `install ${adapter.program} or add it to PATH`);
  }
  const session = await adapter.login(vendor, options.account);
  const results: Fetched = await adapter.fetch(vendor, { secrets: args, account: options.account, from: options.from, session });
  // Kamal's inline form: the JSON, shell-escaped, so that `extract … $SECRETS` splits it back into one word.
  return rubyShellEscape(JSON.stringify(results));
}

function extract(words: string[]): string {
  const { args } = parseOptions(words, false);
  if (args.length !== 2) fail(`extract takes 2 arguments (a secret name and the output of fetch), got ${args.length}`, 'write $(kamal secrets extract NAME $SECRETS) after SECRETS=$(kamal secrets fetch …)');
  const [name, json] = args as [string, string];
  const shownName = /^[\w./:@-]{1,200}$/.test(name) ? name : '(a name with unusual characters)';
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return fail('the second argument to extract is not the JSON that fetch prints', 'pass $SECRETS unquoted, where SECRETS=$(kamal secrets fetch …) is set on an earlier line');
  }
  if (!isRecord(parsed)) return fail('the second argument to extract is not the JSON object that fetch prints');
  let value = Object.hasOwn(parsed, name) ? parsed[name] : undefined;
  if (value === undefined || value === null) value = Object.entries(parsed).find(([key]) => key.endsWith(`/${name}`))?.[1];
  if (value === undefined || value === null) fail(`Could not find secret ${shownName}`, 'extract matches a full name from fetch or its last /-separated part');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function kamalSecrets(request: CommandRequest, spawn: SpawnProgram): Promise<string> {
  const split = rubyShellSplit(request.command);
  if (!split.ok) fail(`cannot split the command into words: it has ${split.reason}`);
  const [kamal, secrets, command, ...rest] = split.words;
  if (kamal !== 'kamal' || secrets !== 'secrets') fail('is not a `kamal secrets` command');
  switch (command) {
    case 'fetch':
      return fetch(rest, request, spawn);
    case 'extract':
      return extract(rest);
    case 'print':
      return fail('print lists the secrets of a loaded config, so it has nothing to print inside a secrets file', 'use fetch and extract here; `deploy config` shows which secrets a config uses');
    default:
      return fail(`${command === undefined ? 'a subcommand is missing' : `unknown subcommand ${/^[\w-]{1,40}$/.test(command) ? command : '(not shown)'}`}`, 'Berth runs fetch and extract built in, as Kamal does');
  }
}

/** Runs `$(kamal secrets …)` built in (with vendor CLIs from `spawn`), anything else with `fallback`. */
export function withKamalSecrets(fallback: RunCommand, spawn: SpawnProgram = runProgram): RunCommand {
  return async (request) => {
    if (!KAMAL_SECRETS_COMMAND.test(request.command)) return fallback(request);
    const sub = /^\s*kamal\s*secrets\s+(fetch|extract|print)\b/.exec(request.command)?.[1];
    const label = `\`kamal secrets${sub ? ` ${sub}` : ''}\``;
    try {
      return { kind: 'ok', stdout: await kamalSecrets(request, spawn) };
    } catch (e) {
      if (e instanceof ConfigError) return { kind: 'failed', message: `${label}: ${e.message}`, ...(e.hint ? { hint: e.hint } : {}) };
      throw e;
    }
  };
}
