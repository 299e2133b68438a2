// Kamal's command vocabulary as data: each Kamal form and the Berth command
// line it becomes, the forms refused (exit 2, naming what to use instead), and
// every translated line parsing as a Berth command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translateKamal } from '../../../cli/kamal-translate.js';
import { expandAlias, resolveCommandLine, splitAliasWords } from '../../../cli/kamal-dispatch.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliRunner } from '../../support/cli-fixtures.js';
import { KAMAL_COMMANDS } from '../../../cli/kamal-commands.js';
import { parseCommandLine } from '../../../cli/args.js';
import { commands } from '../../../cli/main.js';
import { isBerthError } from '../../../shared/errors.js';
import { declaredVersion, namesTag, releaseImage } from '../../../cli/image-version.js';
import { parseImageReference } from '../../../shared/image-reference.js';

const cases: Array<[string[], string[], string[]?]> = [
  [['deploy', '--skip-push', '--version', 'abc123'], ['push', '--version', 'abc123'], ['note: --skip-push: Berth never builds or pushes an image; it deploys the one in the registry']],
  [['deploy', '-P', '-q', '-v', '-d', 'staging', '--version=abc'], ['push', '--verbose', '--destination', 'staging', '--version', 'abc'], ['note: --skip-push: Berth never builds or pushes an image; it deploys the one in the registry']],
  [['redeploy', '--skip-hooks', '--no-cache', '--trust-new'], ['push', '--trust-new']],
  [['deploy', '--lock-wait'], ['push', '--lock-wait', '900']],
  [['deploy', '--lock-wait', '--lock-wait-timeout', '60', '--lock-wait-interval', '5'], ['push', '--lock-wait', '60']],
  [['deploy', '--lock-wait', '30'], ['push', '--lock-wait', '30']],
  [['rollback', 'abc123'], ['rollback', 'abc123']],
  [['app', 'exec', '-i', '--reuse', 'bin/rails console'], ['exec', '--interactive', '--reuse', '--', 'bin/rails', 'console']],
  [['app', 'exec', '-p', '-q', '-r', 'web', 'uname -a'], ['exec', '--primary', '--role', 'web', '--', 'uname', '-a']],
  [['app', 'exec', '-h', 'web1', "echo 'a b'", 'c'], ['exec', '--host', 'web1', '--', 'echo', 'a b', 'c']],
  [['app', 'exec', '--', 'sh', '-c', 'ls -la'], ['exec', '--', 'sh', '-c', 'ls -la']],
  [['-d', 'staging', 'app', 'logs', '-f', '-n', '20', '-s', '10m', '-g', 'GET', '-r', 'web', '-T'], ['logs', '--destination', 'staging', '--follow', '--lines', '20', '--since', '10m', '--grep', 'GET', '--role', 'web']],
  [['app', 'details'], ['details']],
  [['app', 'boot', '--version', 'v2'], ['push', '--version', 'v2'], ['note: `app boot` deploys the image deploy.yml names (or --version), as `deploy push` does']],
  [['app', 'containers'], ['status']],
  [['app', 'maintenance', '--message', 'back soon'], ['maintenance', '--message', 'back soon']],
  [['app', 'live'], ['live']],
  [['app', 'stop'], ['stop']],
  [['app', 'stop', '-r', 'web,workers', '-h', 'web1', '-d', 'staging'], ['stop', '--role', 'web,workers', '--host', 'web1', '--destination', 'staging']],
  [['app', 'start', '--roles=web', '-q'], ['start', '--role', 'web']],
  [['lock', 'acquire', '-m', 'migrating'], ['lock', 'acquire', '--message', 'migrating']],
  [['lock', 'release'], ['lock', 'release']],
  [['audit', '-q'], ['audit']],
  [['details', '-c', 'config/other.yml'], ['details', '--config', 'config/other.yml']],
  [['accessory', 'exec', 'db', 'psql -c "select 1"'], ['accessory', 'exec', 'db', '--', 'psql', '-c', 'select 1']],
  [['accessory', 'exec', 'db', '--', 'psql', '-c', 'select 1'], ['accessory', 'exec', 'db', '--', 'psql', '-c', 'select 1']],
  [['accessory', 'logs', 'db', '-s', '1h', '-g', 'ERROR'], ['accessory', 'logs', '--since', '1h', '--grep', 'ERROR', 'db']],
  [['accessory', 'remove', 'db', '-y'], ['accessory', 'remove', '--confirmed', 'db']],
  [['accessory', 'boot', 'all'], ['accessory', 'boot', 'all']],
  [['remove', '-y'], ['remove', '--confirmed']],
  [['proxy', 'details'], ['details']],
  [['deploy', '-h'], ['push', '--help']],
  [['app', 'exec', '--help'], ['exec', '--help']],
  [['accessory', 'exec', '-h'], ['accessory', 'exec', '--help']],
];

for (const [kamal, berth, notes] of cases) {
  test(`kamal ${kamal.join(' ')} → deploy ${berth.join(' ')}`, () => {
    const t = translateKamal(kamal);
    assert.ok(t, 'a Kamal form');
    assert.deepEqual(t.argv, berth);
    assert.deepEqual(t.notes, notes ?? []);
    // What the table makes must be a Berth command line (or its help).
    assert.equal(parseCommandLine(t.argv, commands).kind, t.argv.includes('--help') ? 'help' : 'command', `parses: ${t.argv.join(' ')}`);
  });
}

const refused: Array<[string[], RegExp, RegExp]> = [
  [['build', 'push'], /`deploy build push` is a Kamal command with no meaning in Berth/, /never builds or pushes images.*deploy push --version TAG/],
  [['proxy', 'boot'], /`deploy proxy boot`/, /part of berth-agent/],
  [['server', 'bootstrap'], /`deploy server bootstrap`/, /deploy server add HOST/],
  [['registry', 'login'], /`deploy registry login`/, /registry: from deploy.yml/],
  [['prune', 'all'], /`deploy prune all`/, /retain_containers/],
  [['env', 'push'], /`deploy env push`/, /with each deploy/],
  [['setup'], /`deploy setup`/, /deploy server add HOST.*deploy push/],
  [['app', 'stop', '-p'], /`deploy app stop`.*--primary/, /-h HOSTS/],
  [['app', 'frob'], /unknown Kamal command `app frob`/, /app boot\|start\|stop\|details/],
  [['app', 'exec', '-e', 'A:1', 'ls'], /Kamal's --env \(-e\) has no Berth equivalent/, /env KEY=VALUE CMD/],
  [['app', 'exec', '--detach', 'ls'], /--detach/, /cron/],
  [['app', 'exec'], /`deploy app exec` needs a command/, /usage/],
  [['app', 'exec', 'ls | wc -l'], /the command "ls \| wc -l" uses "\|" outside quotes/, /deploy --help/],
  [['app', 'logs', '-r', 'web,job'], /--role takes one name, not "web,job"/, /once per role/],
  [['app', 'logs', '-h', 'web1'], /--hosts \(-h\)/, /prefixed by its host/],
  [['deploy', '-h', 'web1'], /--hosts \(-h\)/, /every server of the config/],
  [['deploy', '--roles', 'web'], /--roles \(-r\)/, /every server of the config/],
  [['details', '--version', 'x'], /--version/, /only `deploy deploy`/],
];

for (const [kamal, message, hint] of refused) {
  test(`kamal ${kamal.join(' ')} is refused as a usage error naming what to use`, () => {
    assert.throws(() => translateKamal(kamal), (err: unknown) => {
      assert.ok(isBerthError(err) && err.code === 'usage', String(err));
      assert.match(err.message, message);
      assert.match(err.hint ?? '', hint);
      return true;
    });
  });
}

test('Berth forms are left alone', () => {
  for (const argv of [['push', '--version', 'v1'], ['exec', '-r', 'web', '--', 'ls'], ['logs', '-f'], ['status'], ['server', 'add', 'h'], ['proxy', 'pause'], ['--version'], []]) {
    assert.equal(translateKamal(argv), undefined, argv.join(' '));
  }
});

test('every Kamal command maps to a Berth command that exists', () => {
  for (const [path, entry] of Object.entries(KAMAL_COMMANDS)) {
    if ('refuse' in entry) continue;
    assert.ok(commands.some((c) => c.path.join(' ') === entry.berth.join(' ')), `${path} → ${entry.berth.join(' ')}`);
  }
});

test('an alias is replaced by its words and the rest of the line appended', () => {
  assert.deepEqual(expandAlias(['console', '-d', 'staging'], 'console', 'app exec -i --reuse "bin/rails console"'), ['app', 'exec', '-i', '--reuse', 'bin/rails console', '-d', 'staging']);
  assert.deepEqual(expandAlias(['-c', 'console', 'console'], 'console', 'details'), ['details', '-c', 'console']);
});

test('aliases resolve through aliases and Kamal forms; commands win; loops stop', async () => {
  const aliases = { console: 'app exec -i --reuse "bin/rails console"', c: 'console', loop: 'loop', status: 'app logs' };
  const source = async () => ({ aliases });
  assert.deepEqual(await resolveCommandLine(['c', '-d', 'staging'], commands, source), { argv: ['exec', '--interactive', '--reuse', '--destination', 'staging', '--', 'bin/rails', 'console'], notes: [] });
  assert.deepEqual(await resolveCommandLine(['status'], commands, source), { argv: ['status'], notes: [] });
  const staging = async () => ({ aliases: { staging_deploy: 'deploy -d staging' } });
  assert.deepEqual(await resolveCommandLine(['staging_deploy', '--skip-push', '--version', 'abc'], commands, staging), {
    argv: ['push', '--destination', 'staging', '--version', 'abc'],
    notes: ['note: --skip-push: Berth never builds or pushes an image; it deploys the one in the registry'],
  });
  assert.deepEqual(await resolveCommandLine(['nope'], commands, source), { argv: ['nope'], notes: [] });
  await assert.rejects(resolveCommandLine(['loop'], commands, source), /alias loop expands to aliases more than 8 deep/);
  await assert.rejects(resolveCommandLine(['x'], commands, async () => ({ failed: 'no deploy.yml in /tmp' })), /unknown command `x`/);
});

test('--version is the tag of an untagged image line; a tag or digest on the line is kept, with a note', () => {
  const untagged = 'registry.example.com/app';
  assert.equal(releaseImage(untagged, parseImageReference(untagged), 'abc123').ref.tag, 'abc123');
  assert.equal(releaseImage(untagged, parseImageReference(untagged), undefined).ref.tag, 'latest');
  const tagged = 'registry.example.com:5000/app:stable';
  const t = releaseImage(tagged, parseImageReference(tagged), 'abc123');
  assert.equal(t.ref.tag, 'stable');
  assert.match(t.note ?? '', /names tag stable, which is deployed; --version abc123 names the release only/);
  const pinned = `registry.example.com/app@sha256:${'a'.repeat(64)}`;
  const p = releaseImage(pinned, parseImageReference(pinned), 'abc123');
  assert.equal(p.ref.digest, `sha256:${'a'.repeat(64)}`);
  assert.match(p.note ?? '', /pins .*; --version abc123 names the release only/);
  assert.equal(namesTag('localhost:5000/app'), false);
  assert.equal(namesTag('localhost:5000/app:v1'), true);
  assert.equal(declaredVersion(undefined, { VERSION: 'v9' }), 'v9');
  assert.equal(declaredVersion('v1', { VERSION: 'v9' }), 'v1');
  assert.equal(declaredVersion(undefined, { VERSION: '' }), undefined);
});

test('a Berth option\'s value on a Kamal form stays with its option, whichever command declares the option', async () => {
  const noAliases = async () => ({ aliases: {} });
  // --comment takes a value (deploy keys new); taken for a command word, `x` would become lock acquire's positional.
  const { argv } = await resolveCommandLine(['lock', 'acquire', '--comment', 'x', '-m', 'y'], commands, noAliases);
  assert.deepEqual(argv, ['lock', 'acquire', '--comment', 'x', '--message', 'y']);
});

test('alias bodies split as Ruby Shellwords does: quotes and backslashes only', () => {
  assert.deepEqual(splitAliasWords(`app exec -i --reuse "bin/rails console"`), ['app', 'exec', '-i', '--reuse', 'bin/rails console']);
  assert.deepEqual(splitAliasWords(`app exec "sh -c 'echo \\$HOME | wc'" a\\ b`), ['app', 'exec', "sh -c 'echo $HOME | wc'", 'a b']);
  assert.deepEqual(splitAliasWords(`x 'it''s' "" y$Z`), ['x', 'its', '', 'y$Z']);
  assert.equal(splitAliasWords(`app exec "unterminated`), undefined);
  // Ruby: "trailing \\".shellsplit => ["trailing", "\\"].
  assert.deepEqual(splitAliasWords(`trailing \\`), ['trailing', '\\']);
});

test('through main: Kamal forms without a Berth meaning exit 2 naming what to use; an alias shadowing a Kamal command is a config error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-kamal-'));
  const run = cliRunner(dir, join(dir, 'xdg'));
  writeFileSync(join(dir, 'deploy.yml'), 'service: demo\nimage: registry.example.com/demo\nservers:\n  - 192.0.2.10\naliases:\n  broken: app exec "oops\n');
  const build = await run(['build', 'push']);
  assert.equal(build.code, 2);
  assert.match(build.stderr, /^error: `deploy build push` is a Kamal command with no meaning in Berth\nhint: Berth never builds/);
  const stop = await run(['app', 'images', '--json']);
  assert.equal(stop.code, 2);
  assert.equal(JSON.parse(stop.stdout).error.code, 'usage');
  const broken = await run(['broken']);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /error: alias broken: .* has an unmatched quote/);
  const unknown = await run(['nosuch']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error: unknown command `nosuch`/);

  writeFileSync(join(dir, 'deploy.yml'), 'service: demo\nimage: registry.example.com/demo\nservers:\n  - 192.0.2.10\naliases:\n  deploy: app details\n');
  const shadow = await run(['config']);
  assert.equal(shadow.code, 2);
  assert.match(shadow.stderr, /^error: aliases\/deploy: conflicts with a built-in command \(Kamal refuses it too\) \(deploy.yml:6\)/);
  rmSync(dir, { recursive: true, force: true });
});
