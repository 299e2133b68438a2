// Commands as definitions: help and parsing come from each command's spec,
// and run() gets the options typed from it (checked by the build).

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../../cli/args.js';
import { defineCommand, type CommandDefinition } from '../../../cli/command.js';
import { commands } from '../../../cli/main.js';
import { cliRunner } from '../../support/cli-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-command-'));
const run = cliRunner(dir, join(dir, 'xdg'));

describe('help made from the specs', () => {
  it('every `deploy COMMAND --help` exits 0 with its own usage, summary and options', async () => {
    for (const command of commands) {
      const name = command.path.join(' ');
      const res = await run([...command.path, '--help']);
      assert.equal(res.code, 0, `${name}: ${res.stderr}`);
      assert.ok(res.stdout.startsWith(`usage: deploy ${name}${command.args ? ` ${command.args}` : ''} [options]\n`), `${name}: ${res.stdout.split('\n')[0]}`);
      assert.ok(res.stdout.includes(command.summary), name);
      for (const [option, spec] of Object.entries(command.options)) {
        assert.ok(res.stdout.includes(`--${option}`), `${name} --help names --${option}`);
        if (spec.short) assert.ok(res.stdout.includes(`-${spec.short}, --${option}`), `${name} --help names -${spec.short}`);
        assert.ok(res.stdout.includes(spec.description), `${name} --help describes --${option}`);
      }
      for (const global of ['--config', '--destination', '--key', '--json']) assert.ok(res.stdout.includes(global), `${name} --help names ${global}`);
      if (command.aliases) for (const alias of command.aliases) assert.ok(res.stdout.includes(`deploy ${alias.join(' ')}`), `${name} names its alias`);
    }
  });

  it('the overview lists every command with its summary', async () => {
    const res = await run(['--help']);
    assert.equal(res.code, 0);
    for (const command of commands) assert.match(res.stdout, new RegExp(`^  deploy ${command.path.join(' ')}\\b.* ${command.summary.replace(/[()]/g, '\\$&')}$`, 'm'));
  });

  it('an option the command does not have exits 2 naming it, and points to the command help', async () => {
    for (const argv of [['status', '--bogus'], ['lock', 'acquire', '--follow'], ['push', '-x']]) {
      const res = await run(argv);
      assert.equal(res.code, 2, argv.join(' '));
      const option = argv.at(-1)!;
      assert.match(res.stderr, new RegExp(`^error: Unknown option '${option}'`), res.stderr);
      const name = argv.slice(0, -1).join(' ');
      assert.match(res.stderr, new RegExp(`hint: run \`deploy ${name} --help\` for usage`), res.stderr);
      assert.equal(res.stdout, '');
    }
  });

  it('a string option given the wrong way (no value) exits 2', async () => {
    const res = await run(['logs', '--grep']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^error: Option '--grep <value>' argument missing/);
  });
});

describe('typed options', () => {
  const probe = defineCommand({
    path: ['probe'],
    summary: 'a test command',
    positionals: { min: 0, max: 1 },
    options: {
      host: { type: 'string', value: 'HOST', description: 'a host' },
      lines: { type: 'string', short: 'n', default: '100', description: 'lines' },
      follow: { type: 'boolean', short: 'f', description: 'follow' },
    },
    async run({ options, positionals }) {
      // Compile-time: these assignments type-check only if the types follow the spec.
      const host: string | undefined = options.host;
      const lines: string = options.lines;
      const follow: boolean = options.follow;
      // @ts-expect-error a string option without a default may be absent
      const mustHave: string = options.host;
      // @ts-expect-error an option the spec does not have
      void options.grep;
      seen = { host, lines, follow, positionals, mustHave };
    },
  });
  let seen: unknown;

  it('hands run() every option of the spec: strings, defaults, and booleans false when absent', async () => {
    const list = [probe] as readonly CommandDefinition[];
    const parsed = parseCommandLine(['probe', '-f', '--host', 'a.example', 'x'], list);
    assert.ok(parsed.kind === 'command');
    assert.deepEqual(parsed.options, { host: 'a.example', lines: '100', follow: true });
    assert.deepEqual(parsed.globals, { config: undefined, destination: undefined, key: undefined, json: false, verbose: false, help: false });
    const bare = parseCommandLine(['probe', '-n', '5', '--json'], list);
    assert.ok(bare.kind === 'command');
    assert.deepEqual(bare.options, { host: undefined, lines: '5', follow: false });
    assert.equal(bare.globals.json, true);
    await probe.run({ ...({} as Parameters<typeof probe.run>[0]), options: parsed.options as Parameters<typeof probe.run>[0]['options'], positionals: parsed.positionals });
    assert.deepEqual(seen, { host: 'a.example', lines: '100', follow: true, positionals: ['x'], mustHave: 'a.example' });
  });
});
