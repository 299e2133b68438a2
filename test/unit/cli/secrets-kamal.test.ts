// The built-in `kamal secrets` commands as a secrets file uses them: how the
// command line is read (Kamal's options, Ruby's word splitting), extract's
// lookup, and every way a vendor CLI can fail, each reported with file:line
// and never with a value or anything the CLI printed.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { camelize, lookupAdapter } from '../../../cli/secrets/adapters/index.js';
import { loadSecrets } from '../../../cli/secrets/load.js';
import { runShellCommand } from '../../../cli/secrets/run-command.js';
import { rubyShellEscape, rubyShellSplit } from '../../../cli/secrets/shellwords.js';
import { appDirs, rejectsConfigError } from '../../support/cli-fixtures.js';
import { standIn, standInPath, type StandInCall } from '../../support/vendor-cli.js';

const app = appDirs('berth-kamal-secrets-');
const rejects = rejectsConfigError;
const SECRET = 'planted-s3cret';

const item = (label: string, value: string) => ({ id: 'a', section: { id: 'c', label: 's' }, type: 'CONCEALED', label, value, reference: `op://v/i/s/${label}` });

function setup(secrets: string, op: StandInCall[] | undefined, timeoutMs?: number) {
  const dir = app({ '.kamal/secrets': secrets });
  const bin = join(dir, 'bin');
  if (op) standIn(bin, 'op', [{ args: ['--version'], stdout: '2.30.0\n' }, { args: ['account', 'get', '--account', 'acme'] }, ...op]);
  return (env: Record<string, string> = {}) => loadSecrets(dir, undefined, { PATH: standInPath(bin), ...env }, runShellCommand, timeoutMs === undefined ? {} : { commandTimeoutMs: timeoutMs });
}

const FETCH = 'SECRETS=$(kamal secrets fetch --adapter 1password --account acme --from op://v/i s/A s/B)';
const GET = ['item', 'get', 'i', '--vault', 'v', '--format', 'json', '--account', 'acme', '--fields', 'label=s.A,label=s.B'];

describe('kamal secrets in a secrets file, built in', () => {
  it('is run built in even when a kamal command is on PATH, as Kamal itself never runs it through the shell', async () => {
    const dir = app({ '.kamal/secrets': 'SECRETS=$(kamal secrets fetch --adapter test --account x --from pre A LPARENbRPAREN)\nA=$(kamal secrets extract A $SECRETS)\nB=$(kamal secrets extract pre/LPARENbRPAREN $SECRETS)' });
    standIn(join(dir, 'bin'), 'kamal', []);
    const store = await loadSecrets(dir, undefined, { PATH: standInPath(join(dir, 'bin')) }, runShellCommand);
    // Kamal's test adapter: the prefixed name reversed.
    assert.equal(store.get('A'), 'A/erp');
    assert.equal(store.get('B'), ')b(/erp');
    assert.equal(store.get('SECRETS'), '\\{\\"pre/A\\":\\"A/erp\\",\\"pre/LPARENbRPAREN\\":\\"\\)b\\(/erp\\"\\}');
  });

  it('expands $VAR in the command first, as Kamal does', async () => {
    const load = setup('SECRETS=$(kamal secrets fetch --adapter 1password --account $OP_ACCOUNT --from op://$VAULT/i s/A s/B)\nA=$(kamal secrets extract A $SECRETS)', [{ args: GET, stdout: JSON.stringify([item('A', 'va'), item('B', 'vb')]) }]);
    assert.equal((await load({ OP_ACCOUNT: 'acme', VAULT: 'v' })).get('A'), 'va');
  });

  it('names a missing key in extract, never a value', async () => {
    const load = setup(`${FETCH}\nX=$(kamal secrets extract NOPE $SECRETS)`, [{ args: GET, stdout: JSON.stringify([item('A', SECRET), item('B', SECRET)]) }]);
    await rejects(load(), /^\.kamal\/secrets:2: `kamal secrets extract`: Could not find secret NOPE$/, [SECRET]);
  });

  it('reports a failing vendor CLI by its exit status and Kamal message, never its output', async () => {
    const load = setup(FETCH, [{ args: GET, exit: 1, stdout: SECRET, stderr: `[ERROR] ${SECRET}` }]);
    await rejects(load(), /^\.kamal\/secrets:1: `kamal secrets fetch`: Could not read s\.A, s\.B from i in the v 1Password vault \(op exited with 1\)$/, [SECRET]);
  });

  it('names the CLI and the adapter when the CLI is missing, or its --version fails', async () => {
    await rejects(setup(FETCH, undefined)(), /^\.kamal\/secrets:1: `kamal secrets fetch`: 1Password CLI is not installed: op is not on PATH$/);
    const dir = app({ '.kamal/secrets': 'S=$(kamal secrets fetch --adapter lastpass --account a x)' });
    standIn(join(dir, 'bin'), 'lpass', [{ args: ['--version'], exit: 2 }]);
    await rejects(loadSecrets(dir, undefined, { PATH: standInPath(join(dir, 'bin')) }, runShellCommand), /: LastPass CLI is not installed: `lpass --version` failed with exit status 2$/);
  });

  it('refuses output that is not JSON, without showing it', async () => {
    await rejects(setup(FETCH, [{ args: GET, stdout: `{"value": "${SECRET}"` }])(), /: op printed something that is not JSON for op item get i$/, [SECRET]);
    await rejects(setup(FETCH, [{ args: GET, stdout: JSON.stringify([{ value: SECRET }]) }])(), /: op printed JSON of an unexpected shape for op item get$/, [SECRET]);
  });

  it('stops a CLI that prints more than 1 MiB', async () => {
    await rejects(setup(FETCH, [{ args: GET, bytes: 1024 * 1024 + 1 }])(), /: op printed more than 1 MiB$/);
  });

  it('stops a CLI that does not finish in time (it cannot prompt: stdin is closed), with a hint', async () => {
    const error = await rejects(setup(FETCH, [{ args: GET, hang: true }], 1500)(), /^\.kamal\/secrets:1: `kamal secrets fetch`: op did not finish within 2 s$/);
    assert.match(error.hint ?? '', /without a terminal/);
  });

  it("checks Kamal's options: adapter required and known, --account where the adapter needs it, no unknown option", async () => {
    await rejects(setup('S=$(kamal secrets fetch --from x A)', [])(), /`kamal secrets fetch`: No value provided for required options '--adapter'$/);
    await rejects(setup('S=$(kamal secrets fetch --adapter vault9 A)', [])(), /`kamal secrets fetch`: Unknown secrets adapter: vault9$/);
    await rejects(setup('S=$(kamal secrets fetch --adapter 1password --from v/i A)', [])(), /`kamal secrets fetch`: the 1Password adapter needs --account$/);
    await rejects(setup('S=$(kamal secrets fetch --adapter 1password --account acme --vault v A)', [])(), /`kamal secrets fetch`: unknown option --vault$/);
    await rejects(setup('S=$(kamal secrets fetch --adapter)', [])(), /No value provided for option '--adapter'$/);
  });

  it('refuses print, an unknown subcommand, a bad extract and an unmatched quote, showing no argument', async () => {
    await rejects(setup('S=$(kamal secrets print)', [])(), /`kamal secrets print`: print lists the secrets of a loaded config/);
    await rejects(setup('S=$(kamal secrets show x)', [])(), /`kamal secrets`: unknown subcommand show$/);
    await rejects(setup(`S=$(kamal secrets extract A ${SECRET} extra)`, [])(), /`kamal secrets extract`: extract takes 2 arguments \(a secret name and the output of fetch\), got 3$/, [SECRET]);
    await rejects(setup(`S=$(kamal secrets extract A ${SECRET})`, [])(), /the second argument to extract is not the JSON that fetch prints$/, [SECRET]);
    await rejects(setup(`S=$(kamal secrets extract A '${SECRET})`, [])(), /cannot split the command into words: it has an unmatched quote$/, [SECRET]);
  });

  it('accepts the forms Thor accepts: -a VALUE, -aVALUE, --name=VALUE, and Kamal options it ignores here', async () => {
    const load = setup('SECRETS=$(kamal secrets fetch -a1password --account=acme -d production --from=op://v/i s/A s/B --inline)\nA=$(kamal secrets extract A $SECRETS --inline)', [{ args: GET, stdout: JSON.stringify([item('A', 'va'), item('B', 'vb')]) }]);
    assert.equal((await load()).get('A'), 'va');
  });
});

describe("Kamal's adapter names", () => {
  it('camelizes as Rails does and knows the aliases', () => {
    assert.equal(camelize('aws_secrets_manager'), 'AwsSecretsManager');
    assert.equal(camelize('OnePassword'), 'OnePassword');
    for (const name of ['1password', '1Password', 'one_password', 'OnePassword', 'bitwarden', 'bitwarden-sm', 'bitwarden_secrets_manager', 'aws_secrets_manager', 'gcp', 'GCP', 'gcp_secret_manager', 'doppler', 'lastpass', 'LastPass', 'last_pass', 'enpass', 'passbolt', 'test']) {
      assert.equal(lookupAdapter(name).ok, true, name);
    }
    // Kamal's lookup is case-sensitive outside the aliases.
    for (const name of ['DOPPLER', 'Base', 'constructor', '__proto__']) assert.equal(lookupAdapter(name).ok, false, name);
  });
});

describe("Ruby's Shellwords, which carries fetch's JSON to extract", () => {
  it('escapes as String#shellescape', () => {
    assert.equal(rubyShellEscape(''), "''");
    assert.equal(rubyShellEscape("It's a test"), "It\\'s\\ a\\ test");
    assert.equal(rubyShellEscape('a\nb'), "a'\n'b");
    assert.equal(rubyShellEscape('safe-_.,:+/@09'), 'safe-_.,:+/@09');
    assert.equal(rubyShellEscape('é$'), '\\é\\$');
  });

  it('splits as String#shellsplit', () => {
    assert.deepEqual(rubyShellSplit(`a "b c" 'd e' f\\ g a"b"'c' ''`), { ok: true, words: ['a', 'b c', 'd e', 'f g', 'abc', ''] });
    assert.deepEqual(rubyShellSplit('"\\$ \\a"  x|y  '), { ok: true, words: ['$ \\a', 'x|y'] });
    assert.deepEqual(rubyShellSplit('a "b'), { ok: false, reason: 'an unmatched quote' });
  });

  it('round-trips any text through escape then split', () => {
    for (const text of ['{"a":"b"}', `x$y "q" 'z' \\ é\n\t()[]{}|&;<>*?#~!`, ' lead and trail ', '']) {
      assert.deepEqual(rubyShellSplit(`extract A ${rubyShellEscape(text)}`), { ok: true, words: ['extract', 'A', text] });
    }
  });
});
