import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine as parseWith } from '../../../cli/args.js';
import { renderStatusTable } from '../../../cli/actions/status.js';
import { commands, exitCodeFor, renderError, renderJsonError } from '../../../cli/main.js';
import { progressRecord, renderProgressFrame, renderProgressLine, renderSummaryTable, resultRecord } from '../../../cli/output/deploy.js';
import { createStyle, plainStyle } from '../../../cli/output/style.js';
import { ConfigError, PinMismatchError, UpstreamError, UserError } from '../../../shared/errors.js';

describe('output renderers', () => {
  it('renders plain progress lines aligned by host, without terminal escapes from the server', () => {
    assert.equal(renderProgressLine({ host: 'a:7443', state: 'PULLED', message: 'pulled', progress: 42.4 }, 10, plainStyle), 'a:7443      PULLED     pulled (42%)');
    assert.equal(renderProgressLine({ host: 'b', state: 'DONE', message: 'ok\x1b[2J\nnext' }, 1, plainStyle), 'b  DONE       ok next');
    assert.equal(renderProgressLine({ host: 'b', state: 'DONE', message: 'ok' }, 1, createStyle(true)), 'b  \x1b[32mDONE     \x1b[39m  ok');
  });

  it('renders a terminal frame that redraws its previous lines', () => {
    const frame = renderProgressFrame(
      [
        { host: 'one', state: 'PULLED', message: 'pulling', progress: 50 },
        { host: 'two', state: 'DONE', message: 'deployed v1', outcome: 'ok' },
      ],
      2,
      80,
      plainStyle,
    );
    assert.equal(frame, '\x1b[2A\r\x1b[2K… one   PULLED     [##########----------]  50% pulling\n\r\x1b[2K✓ two   DONE       deployed v1\n');
    assert.ok(!renderProgressFrame([{ host: 'h', state: 'S', message: 'x'.repeat(500) }], 0, 40, plainStyle).includes('x'.repeat(40)));
  });

  it('renders the summary table: host, roles, release, result, time; skipped hosts have no time', () => {
    const table = renderSummaryTable(
      [
        { host: '10.0.0.1:7443', roles: ['web', 'jobs'], release: 'abc', ok: true, state: 'DONE', seconds: 3.21 },
        { host: '10.0.0.2:7443', roles: ['web'], release: 'abc', ok: false, state: 'REVERTED', seconds: 75, error: 'never healthy' },
        { host: '10.0.0.3:7443', roles: ['web'], release: 'abc', ok: false, state: 'SKIPPED', seconds: 0, error: 'skipped: the primary failed' },
      ],
      plainStyle,
    );
    assert.equal(table, [
      'HOST           ROLE      RELEASE  RESULT                 TIME',
      '10.0.0.1:7443  web,jobs  abc      deployed               3.2s',
      '10.0.0.2:7443  web       abc      failed: never healthy  1m15s',
      '10.0.0.3:7443  web       abc      skipped                -',
      '',
    ].join('\n'));
    assert.match(renderSummaryTable([{ host: 'h', roles: ['web'], release: 'v1', ok: true, state: 'DONE', seconds: 1 }], plainStyle, { done: 'rolled back' }), /h +web +v1 +rolled back +1\.0s/);
  });

  it('renders JSON records', () => {
    assert.deepEqual(progressRecord({ host: 'h', state: 'PULLED', message: 'm', progress: 10, deployId: 3 }), { type: 'progress', host: 'h', deploy_id: 3, state: 'PULLED', message: 'm', progress: 10 });
    assert.deepEqual(resultRecord({ host: 'h', roles: ['web'], release: 'v', ok: false, state: 'ERROR', seconds: 1.23456, error: 'boom' }), { type: 'result', host: 'h', roles: ['web'], release: 'v', ok: false, state: 'ERROR', seconds: 1.235, error: 'boom' });
  });

  it('renders the status table', () => {
    const table = renderStatusTable([
      { host: 'a', service: { name: 's', destination: '', seq: 4, current: { version: 'v4', image: 'i', seq: 4, deploy_id: 9 }, containers: [{ id: '1', name: 'n', role: 'web', release: 'v4', state: 'running', status: '' }, { id: '2', name: 'm', role: 'web', release: 'v3', state: 'exited', status: '' }], routes: [], last_deploy: { id: 9, version: 'v4', state: 'DONE', trigger: 'push', at: '2026-01-01T00:00:00.000Z', error: null } } },
      { host: 'b', service: null },
      { host: 'c', service: null, error: 'connection refused' },
    ]);
    assert.equal(table, ['HOST  RELEASE  SEQ  CONTAINERS            LAST DEPLOY', 'a     v4       4    1 running, 1 stopped  DONE', 'b     -        0    -                     never deployed', 'c     -        -    -                     error: connection refused', ''].join('\n'));
  });

  it('renders errors as one red line plus a hint; stack only when verbose', () => {
    const err = new PinMismatchError('identity changed', 'run deploy server add h --replace');
    assert.equal(renderError(err, { color: false, verbose: false }), 'error: identity changed\nhint: run deploy server add h --replace\n');
    assert.ok(renderError(err, { color: true, verbose: false }).startsWith('\x1b[31merror: identity changed\x1b[39m\n'));
    assert.match(renderError(err, { color: false, verbose: true }), /\n.*PinMismatchError: identity changed\n\s+at /);
    assert.match(renderError(new TypeError('x is undefined'), { color: false, verbose: false }), /^error: x is undefined\nhint: this looks like a bug/);
    assert.deepEqual(JSON.parse(renderJsonError(err)), { error: { code: 'pin_mismatch', message: 'identity changed', hint: 'run deploy server add h --replace' } });
  });

  it('maps usage and config errors to exit 2, everything else to 1', () => {
    assert.equal(exitCodeFor(new ConfigError('bad')), 2);
    assert.equal(exitCodeFor(new UserError('bad', undefined, 'usage')), 2);
    assert.equal(exitCodeFor(new UserError('bad')), 1);
    assert.equal(exitCodeFor(new UpstreamError('down')), 1);
    assert.equal(exitCodeFor(new Error('bug')), 1);
  });
});

const parseCommandLine = (argv: string[]) => parseWith(argv, commands);

describe('command line', () => {
  it('every command has a run function, and no two commands share words', () => {
    const names = commands.map((c) => c.path.join(' '));
    for (const command of commands) assert.equal(typeof command.run, 'function', command.path.join(' '));
    assert.equal(new Set(names).size, names.length);
  });

  it('selects commands, aliases and options', () => {
    const push = parseCommandLine(['deploy', '--version', 'v1', '-c', 'x.yml', '--trust-new']);
    assert.equal(push.kind, 'command');
    if (push.kind === 'command') {
      assert.equal(push.name, 'push');
      assert.deepEqual({ ...push.values }, { version: 'v1', config: 'x.yml', 'trust-new': true });
    }
    const add = parseCommandLine(['-c', 'server', 'server', 'add', 'h:1', '--replace']);
    assert.ok(add.kind === 'command' && add.name === 'server add' && add.positionals[0] === 'h:1' && add.values.config === 'server');
    const version = parseCommandLine(['--version']);
    assert.ok(version.kind === 'command' && version.name === 'version');
  });

  it('shows help with exit 0 when asked and exit 2 when a command is missing', () => {
    const help = parseCommandLine(['push', '--help']);
    assert.ok(help.kind === 'help' && help.exitCode === 0 && help.text.startsWith('usage: deploy push [options]'));
    const none = parseCommandLine([]);
    assert.ok(none.kind === 'help' && none.exitCode === 2 && none.text.includes('deploy server add HOST[:PORT]'));
    const group = parseCommandLine(['keys']);
    assert.ok(group.kind === 'help' && group.exitCode === 2 && group.text.includes('deploy keys new') && !group.text.includes('deploy push'));
  });

  it('refuses unknown commands, unknown options and wrong argument counts as usage errors', () => {
    const usage = (argv: string[], message: RegExp) => assert.throws(() => parseCommandLine(argv), (e: unknown) => e instanceof UserError && e.code === 'usage' && message.test(e.message), argv.join(' '));
    usage(['frobnicate'], /unknown command `frobnicate`/);
    usage(['push', '--force'], /Unknown option '--force'$/);
    usage(['server', 'add'], /needs HOST\[:PORT\]/);
    usage(['server', 'add', 'a', 'b'], /unexpected argument `b`/);
    usage(['keys', 'new', '--comment'], /argument missing/);
  });
});
