import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

// dist/test/unit/cli/ -> dist/bin/deploy.js, the bundled binary. Commands are read from the binary's own
// overview, so the test follows however the commands are defined.
const DEPLOY_BIN = resolve(import.meta.dirname, '../../../bin/deploy.js');
const deploy = (...args: string[]) => spawnSync(process.execPath, [DEPLOY_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

/**
 * `  deploy server add HOST[:PORT]  pin a server` -> ['server', 'add']: the lowercase words
 * of the left column (ended by two spaces) before the arguments.
 */
function commandsOf(overview: string): string[][] {
  return overview
    .split('\n')
    .filter((line) => line.startsWith('  deploy '))
    .map((line) => {
      const words = (line.trim().split(/\s{2,}/)[0] ?? '').split(' ').slice(1);
      const end = words.findIndex((w) => !/^[a-z][a-z-]*$/.test(w));
      return words.slice(0, end === -1 ? words.length : end);
    });
}

describe('the deploy binary', () => {
  it('every command in deploy --help answers --help with its own usage on stdout, exit 0', () => {
    const overview = deploy('--help');
    assert.equal(overview.status, 0, overview.stderr);
    const commands = commandsOf(overview.stdout);
    assert.ok(commands.length >= 20 && commands.some((c) => c.join(' ') === 'server add'), overview.stdout);
    for (const words of commands) {
      const name = words.join(' ');
      const r = deploy(...words, '--help');
      assert.equal(r.status, 0, `${name} --help: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`usage: deploy ${name}`), `${name} --help: ${r.stdout.split('\n')[0]}`);
    }
    const short = deploy('server', 'add', '-h');
    assert.ok(short.status === 0 && short.stdout.startsWith('usage: deploy server add'), short.stderr);
  });
});
