import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

// dist/test/unit/agent/ -> dist/bin/berth-agent.js, the bundled binary as installed.
const AGENT_BIN = resolve(import.meta.dirname, '../../../bin/berth-agent.js');

const agent = (...args: string[]) => spawnSync(process.execPath, [AGENT_BIN, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('the berth-agent binary', () => {
  for (const command of ['run', 'router', 'init', 'trust add', 'trust list', 'trust remove', 'status']) {
    it(`berth-agent ${command} --help prints its usage on stdout and exits 0`, () => {
      const r = agent(...command.split(' '), '--help');
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`usage: berth-agent ${command}`), r.stdout);
      assert.equal(r.stderr, '');
    });
  }

  it('berth-agent run --help and router --help name their own options', () => {
    const run = agent('run', '--help').stdout;
    assert.ok(run.includes('--docker-host URL') && run.includes('--allow-bind DIR') && !run.includes('--http-listen'));
    const router = agent('router', '-h').stdout;
    assert.ok(router.includes('--http-listen IP:PORT') && router.includes('--idle-timeout SECONDS') && !router.includes('--docker-host'));
  });

  it('an unknown option exits 2 with a message naming it and pointing at --help', () => {
    const r = agent('run', '--nope');
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Unknown option '--nope'/);
    assert.match(r.stderr, /see berth-agent run --help/);
    const router = agent('router', '--nope');
    assert.equal(router.status, 2);
    assert.match(router.stderr, /Unknown option '--nope'[\s\S]*berth-agent router --help/);
  });
});
