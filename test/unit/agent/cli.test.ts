import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_COMMANDS, parseAgentArgs } from '../../../agent/cli.js';
import { UserError } from '../../../shared/errors.js';

/** The options a command's usage shows: every one it accepts but those it takes only to share run's command line. */
const shownOptions = (name: string): string[] => {
  const spec = AGENT_COMMANDS.find((s) => s.name === name);
  assert.ok(spec, name);
  return Object.entries(spec.options).filter(([, o]) => !o.hidden).map(([option]) => `--${option}`);
};

const helpText = (argv: string[]): string => {
  const cmd = parseAgentArgs(argv);
  assert.equal(cmd.cmd, 'help', argv.join(' '));
  return cmd.cmd === 'help' ? cmd.text : '';
};

describe('berth-agent help', () => {
  it('every command answers --help and -h with its own usage, naming each of its options', () => {
    const names = AGENT_COMMANDS.map((s) => s.name);
    assert.deepEqual(names, ['run', 'router', 'init', 'trust add', 'trust list', 'trust remove', 'status']);
    for (const name of names) {
      for (const flag of ['--help', '-h']) {
        const text = helpText([...name.split(' '), flag]);
        assert.ok(text.startsWith(`usage: berth-agent ${name}`), `${name} ${flag}: ${text.split('\n')[0]}`);
        for (const option of shownOptions(name)) assert.ok(text.includes(`  ${option}`), `${name} --help names ${option}`);
      }
      assert.equal(helpText(['help', ...name.split(' ')]), helpText([...name.split(' '), '--help']));
    }
  });

  it('the usages keep the options, environment variables and defaults operators rely on', () => {
    const run = helpText(['run', '--help']);
    for (const expected of [
      '--listen IP:PORT', 'BERTH_LISTEN, default 0.0.0.0:7443', 'DOCKER_HOST, default unix:///var/run/docker.sock',
      'BERTH_ALLOW_BINDS=A,B; default /data and /srv', 'BERTH_MAX_CONNECTIONS, default 512', 'BERTH_MAX_CONNECTIONS_PER_IP, default 32',
      'BERTH_HEADER_TIMEOUT, default 20', 'BERTH_LOG_MAX_SIZE, default 100m', 'BERTH_LOG_MAX_FILE, default 10',
    ]) assert.ok(run.includes(expected), `run --help: ${expected}`);
    const router = helpText(['router', '--help']);
    for (const expected of ['BERTH_HTTP_LISTEN, default 0.0.0.0:80', 'BERTH_ROUTER_MAX_CONNECTIONS, default', '--idle-timeout SECONDS', 'BERTH_ROUTER_IDLE_TIMEOUT']) {
      assert.ok(router.includes(expected), `router --help: ${expected}`);
    }
    assert.ok(helpText(['trust', 'add', '--help']).includes('--scope read|deploy|admin'));
    // status takes run's options without advertising them.
    assert.ok(!helpText(['status', '--help']).includes('--allow-cap'));
  });

  it('no command, help and --help print the general usage listing every command', () => {
    const general = helpText([]);
    assert.equal(helpText(['help']), general);
    assert.equal(helpText(['--help']), general);
    assert.equal(helpText(['-h']), general);
    for (const spec of AGENT_COMMANDS) assert.match(general, new RegExp(`^  ${spec.name}\\b.* ${spec.summary.replace(/[()'.]/g, '.')}$`, 'm'));
    assert.ok(general.includes('--state-dir DIR'));
    const trust = helpText(['trust', '--help']);
    assert.ok(trust.includes("trust add 'LINE'") && trust.includes('trust remove KID') && !trust.includes('  run '));
  });

  it('--help wins over other options, but not after --', () => {
    assert.ok(helpText(['run', '--nope', '--help']).startsWith('usage: berth-agent run'));
    assert.ok(helpText(['trust', 'add', 'berth-ed25519 AAAA me', '--help']).startsWith("usage: berth-agent trust add 'LINE'"));
    assert.ok(helpText(['trust', 'remove', 'kid', '-h']).startsWith('usage: berth-agent trust remove KID'));
    assert.throws(() => parseAgentArgs(['router', '--', '--help']), /unexpected argument "--help"/);
  });
});

describe('berth-agent usage errors', () => {
  const refuses = (argv: string[], message: RegExp, hint: string) =>
    assert.throws(
      () => parseAgentArgs(argv),
      (e: unknown) => e instanceof UserError && e.code === 'usage' && message.test(e.message) && e.hint === hint,
      argv.join(' '),
    );

  it('an unknown option is a usage error naming it and pointing at the command --help', () => {
    for (const spec of AGENT_COMMANDS) {
      const words = spec.name.split(' ');
      const args = spec.name === 'trust add' ? ["berth-ed25519 AAAA me"] : spec.name === 'trust remove' ? ['kid'] : [];
      refuses([...words, ...args, '--nope'], new RegExp(`^berth-agent ${spec.name}: Unknown option '--nope'$`), `see berth-agent ${spec.name} --help`);
    }
  });

  it('stray arguments, unknown commands and a bare trust point at --help', () => {
    refuses(['run', 'extra'], /run: unexpected argument "extra"/, 'see berth-agent run --help');
    refuses(['router', 'extra'], /router: unexpected argument "extra"/, 'see berth-agent router --help');
    refuses(['frobnicate'], /unknown command "frobnicate"/, 'see berth-agent --help');
    refuses(['help', 'frobnicate'], /unknown command "frobnicate"/, 'see berth-agent --help');
    refuses(['trust'], /trust needs add, list or remove/, 'see berth-agent trust --help');
    refuses(['trust', 'add'], /exactly one key line/, 'see berth-agent trust add --help');
  });
});

describe('berth-agent commands', () => {
  it('parses each command from its spec', () => {
    const run = parseAgentArgs(['run', '--listen', '127.0.0.1:1', '--allow-cap', 'A', '--allow-cap', 'B', '--header-timeout=5']);
    assert.ok(run.cmd === 'run');
    assert.equal(run.flags.listen, '127.0.0.1:1');
    assert.deepEqual(run.flags['allow-cap'], ['A', 'B']);
    assert.equal(run.flags['header-timeout'], '5');
    assert.deepEqual(parseAgentArgs(['router', '--http-listen', '127.0.0.1:80']), { cmd: 'router', argv: ['--http-listen', '127.0.0.1:80'] });
    assert.deepEqual(parseAgentArgs(['init', '--san', 'a', '--san', 'b', '--force']), { cmd: 'init', flags: { 'state-dir': undefined }, sans: ['a', 'b'], force: true });
    assert.deepEqual(parseAgentArgs(['trust', 'add', 'LINE', '--scope', 'admin', '--state-dir', '/s']), {
      cmd: 'trust-add', flags: { 'state-dir': '/s' }, line: 'LINE', scope: 'admin',
    });
    assert.deepEqual(parseAgentArgs(['trust', 'list', '--json']), { cmd: 'trust-list', flags: { 'state-dir': undefined }, json: true });
    assert.deepEqual(parseAgentArgs(['trust', 'remove', 'k1']), { cmd: 'trust-remove', flags: { 'state-dir': undefined }, kid: 'k1' });
    // status takes run's command line.
    assert.deepEqual(parseAgentArgs(['status', '--json', '--listen', '127.0.0.1:2', '--allow-cap', 'A']), {
      cmd: 'status', flags: { 'state-dir': undefined, listen: '127.0.0.1:2' }, json: true,
    });
  });
});
