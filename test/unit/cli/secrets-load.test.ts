import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import { secretsFileCandidates } from '../../../cli/secrets/files.js';
import { loadSecrets, type LoadSecretsOptions } from '../../../cli/secrets/load.js';
import { makeRedactor } from '../../../cli/secrets/redact.js';
import { runShellCommand } from '../../../cli/secrets/run-command.js';
import { appDirs, rejectsConfigError } from '../../support/cli-fixtures.js';

const app = appDirs('berth-secrets-');

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin' };

function load(appDir: string, destination?: string, env: Record<string, string> = ENV, options: LoadSecretsOptions = {}) {
  return loadSecrets(appDir, destination, env, runShellCommand, options);
}

const rejects = rejectsConfigError;

describe('which secrets files are read (Kamal 2 precedence, plus .berth/)', () => {
  it('reads secrets-common, then secrets.DEST with a destination or secrets without one, never both', async () => {
    // The same files as Kamal's own test (test/secrets_test.rb "destinations").
    const dir = app({ '.kamal/secrets.dest': 'SECRET=DEF', '.kamal/secrets': 'SECRET=ABC', '.kamal/secrets-common': 'SECRET=GHI\nSECRET2=JKL' });
    const none = await load(dir);
    const dest = await load(dir, 'dest');
    const nodest = await load(dir, 'nodest');
    assert.equal(none.get('SECRET'), 'ABC');
    assert.equal(dest.get('SECRET'), 'DEF');
    assert.equal(nodest.get('SECRET'), 'GHI');
    for (const store of [none, dest, nodest]) assert.equal(store.get('SECRET2'), 'JKL');
    assert.deepEqual(dest.files, ['.kamal/secrets-common', '.kamal/secrets.dest']);
    assert.deepEqual(nodest.files, ['.kamal/secrets-common']);
    assert.equal(dest.origin('SECRET'), '.kamal/secrets.dest:1');
  });

  it('reads .berth/ after .kamal/ at each level, destination files above both common files', async () => {
    const dir = app({
      '.kamal/secrets-common': 'A=kamal-common\nB=kamal-common\nC=kamal-common',
      '.berth/secrets-common': 'B=berth-common\nC=berth-common',
      '.kamal/secrets.prod': 'C=kamal-prod\nD=kamal-prod',
      '.berth/secrets.prod': 'D=berth-prod',
    });
    const store = await load(dir, 'prod');
    assert.deepEqual(Object.fromEntries(store.names().map((n) => [n, store.get(n)])), { A: 'kamal-common', B: 'berth-common', C: 'kamal-prod', D: 'berth-prod' });
    assert.deepEqual(secretsFileCandidates('prod'), ['.kamal/secrets-common', '.berth/secrets-common', '.kamal/secrets.prod', '.berth/secrets.prod']);
    assert.deepEqual(secretsFileCandidates(''), ['.kamal/secrets-common', '.berth/secrets-common', '.kamal/secrets', '.berth/secrets']);
  });

  it("honours Kamal's secrets_path", async () => {
    const dir = app({ 'custom/path/secrets-common': 'COMMON=SHARED\nSECRET=COMMON', 'custom/path/secrets': 'SECRET=OVERRIDE' });
    const store = await load(dir, undefined, ENV, { secretsPath: 'custom/path/secrets' });
    assert.equal(store.get('COMMON'), 'SHARED');
    assert.equal(store.get('SECRET'), 'OVERRIDE');
  });

  it('expands each file on its own: a later file sees the environment, not an earlier file', async () => {
    const dir = app({ '.kamal/secrets-common': 'BASE=from-common', '.kamal/secrets': 'DERIVED=${BASE}-x' });
    assert.equal((await load(dir, undefined, { ...ENV, BASE: 'from-env' })).get('DERIVED'), 'from-env-x');
  });

  it('refuses a destination that could name a file elsewhere', async () => {
    const dir = app({ '.kamal/secrets': 'A=1' });
    await rejects(load(dir, '../../etc/passwd'), /destination must be letters, digits/);
    await rejects(load(dir, 'a/b'), /destination must be letters, digits/);
    assert.equal((await load(dir, 'staging-2')).files.length, 0);
  });
});

describe('a missing secret', () => {
  it('names the secret and the files it was looked for in', async () => {
    const dir = app({ '.kamal/secrets-common': 'A=1', '.kamal/secrets.production': 'B=2' });
    const store = await load(dir, 'production');
    assert.equal(store.get('A'), '1');
    const error = await rejects(Promise.resolve().then(() => store.get('DB_PASSWORD')), /^secret DB_PASSWORD not found in \.kamal\/secrets-common or \.kamal\/secrets\.production$/);
    assert.match(error.hint ?? '', /DB_PASSWORD=/);
  });

  it('lists every candidate file when none exists', async () => {
    const store = await load(app({}), 'staging');
    assert.equal(store.has('X'), false);
    await rejects(
      Promise.resolve().then(() => store.get('KAMAL_REGISTRY_PASSWORD')),
      /^secret KAMAL_REGISTRY_PASSWORD not found: there is no secrets file \(looked for \.kamal\/secrets-common, \.berth\/secrets-common, \.kamal\/secrets\.staging or \.berth\/secrets\.staging\)$/,
    );
  });

  it('quotes a hostile name instead of printing it raw', async () => {
    const store = await load(app({ '.kamal/secrets': 'A=1' }));
    await rejects(Promise.resolve().then(() => store.get('X\u001b[2J\nY')), /^secret "X\\u001b\[2J\\nY" not found/);
  });
});

describe('$(command) through the real runner', () => {
  it('runs with /bin/sh in the app dir, the given environment and stdin closed', async () => {
    const dir = app({
      'config/master.key': 'abc123masterkey\n',
      '.kamal/secrets': ['RAILS_MASTER_KEY=$(cat config/master.key)', 'GREETING=$(echo hello world)', 'FROM_ENV=$(printenv TOKEN)', 'STDIN=$(cat)', 'TWO_LINES="$(printf \'a\\n\\n\')"'].join('\n'),
    });
    const store = await load(dir, undefined, { ...ENV, TOKEN: 'tok-1' });
    assert.equal(store.get('RAILS_MASTER_KEY'), 'abc123masterkey');
    assert.equal(store.get('GREETING'), 'hello world');
    assert.equal(store.get('FROM_ENV'), 'tok-1');
    assert.equal(store.get('STDIN'), '');
    assert.equal(store.get('TWO_LINES'), 'a\n');
  });

  it('reports a failing command with file:line and exit code, never what it printed', async () => {
    const dir = app({ '.kamal/secrets.production': 'FIRST=value-one-s3cret\nSECOND=$(echo out-s3cret; echo err-s3cret >&2; exit 3)' });
    await rejects(load(dir, 'production'), /^\.kamal\/secrets\.production:2: the command `echo …` failed with exit status 3$/, ['s3cret', 'value-one']);
  });

  it('reports a command that does not exist', async () => {
    const dir = app({ '.kamal/secrets': 'A=$(no-such-command-berth --flag)' });
    await rejects(load(dir), /^\.kamal\/secrets:1: the command `no-such-command-berth …` was not found \(exit status 127\)$/);
  });

  it("runs Kamal's `kamal secrets` helpers built in: without op on PATH the error names the CLI and the adapter", async () => {
    const dir = app({
      '.kamal/secrets': 'SECRETS=$(kamal secrets fetch --adapter 1password --account acme --from Vault/Item REGISTRY_PASSWORD)\nREGISTRY_PASSWORD=$(kamal secrets extract REGISTRY_PASSWORD ${SECRETS})',
    });
    const error = await rejects(load(dir, undefined, { PATH: '/usr/bin:/bin' }), /^\.kamal\/secrets:1: `kamal secrets fetch`: 1Password CLI is not installed: op is not on PATH$/);
    assert.match(error.hint ?? '', /install op/);
  });

  it('stops a command that runs too long, with the whole process group', async () => {
    const dir = app({ '.kamal/secrets': 'SLOW=$(sleep 30 & echo $! > sleeper.pid; wait)' });
    await rejects(load(dir, undefined, ENV, { commandTimeoutMs: 300 }), /^\.kamal\/secrets:1: the command `sleep …` did not finish within 300 ms$/);
    // The background sleep was killed with its group (gone, or a zombie waiting to be reaped).
    const pid = Number(readFileSync(join(dir, 'sleeper.pid'), 'utf8'));
    assert.ok(pid > 0);
    for (let i = 0; i < 50 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(isRunning(pid), false, `sleep ${pid} still running`);
  });

  // Unquoted values are unescaped before the command runs (as in dotenv), so a
  // backslash the shell should see is written twice in the file.
  it('refuses a command that prints more than 64 KiB, or bytes that are not text', async () => {
    await rejects(load(app({ '.kamal/secrets': "A=$(head -c 100000 /dev/zero | tr '\\\\0' a)" })), /^\.kamal\/secrets:1: the command `head …` printed more than 64 KiB$/);
    await rejects(load(app({ '.kamal/secrets': "A=$(printf 'a\\\\0b')" })), /printed bytes that are not UTF-8 text or a NUL byte/);
    await rejects(load(app({ '.kamal/secrets': "A=$(printf '\\\\377')" })), /printed bytes that are not UTF-8 text or a NUL byte/);
    // Positive control: 60 KiB is fine.
    assert.equal((await load(app({ '.kamal/secrets': "A=$(head -c 61440 /dev/zero | tr '\\\\0' a)" }))).get('A').length, 61440);
  });
});

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('hostile secrets files', () => {
  it('refuses a file over 1 MiB, naming it', async () => {
    const dir = app({ '.kamal/secrets': `A=${'x'.repeat(1024 * 1024)}\n` });
    await rejects(load(dir), /^\.kamal\/secrets is larger than 1 MiB$/);
  });

  it('refuses a directory or bytes that are not UTF-8', async () => {
    const dir = app({ '.kamal/secrets/placeholder': '' });
    await rejects(load(dir), /^\.kamal\/secrets is not a regular file$/);
    await rejects(load(app({ '.kamal/secrets': Buffer.from([0x41, 0x3d, 0xff, 0xfe]) })), /^\.kamal\/secrets is not UTF-8 text$/);
  });

  it('refuses a malformed line with file:line and nothing of its text', async () => {
    await rejects(load(app({ '.kamal/secrets-common': 'A=1\nthis-is-hunter2\n' })), /^\.kamal\/secrets-common:2: expected NAME=value/, ['hunter2']);
  });
});

describe('redaction', () => {
  it('replaces every loaded value in text, including JSON-escaped and per-line forms', async () => {
    const dir = app({
      '.kamal/secrets': ['TOKEN=tok-abc', 'LONGER=tok-abc-and-more', 'QUOTED="say \\"hi\\""', 'PEM="-----BEGIN-----\nAAAA\n-----END-----"', 'EMPTY='].join('\n'),
    });
    const store = await load(dir);
    const text = `token tok-abc, longer tok-abc-and-more, json ${JSON.stringify({ q: 'say "hi"' })}, pem line AAAA, nothing else`;
    assert.equal(store.redact(text), 'token [REDACTED], longer [REDACTED], json {"q":"[REDACTED]"}, pem line [REDACTED], nothing else');
    assert.equal(store.redact('no secrets here'), 'no secrets here');
  });

  it('keeps values out of the store when it is printed or serialized', async () => {
    const store = await load(app({ '.kamal/secrets': 'A=very-s3cret-value' }));
    assert.equal(store.get('A'), 'very-s3cret-value');
    assert.ok(!JSON.stringify(store).includes('s3cret'));
    assert.ok(!inspect(store, { depth: 10, showHidden: true }).includes('s3cret'));
    assert.deepEqual(JSON.parse(JSON.stringify(store)), { files: ['.kamal/secrets'], names: ['A'] });
  });

  it('does not redact inside an inserted [REDACTED] and escapes regex characters', () => {
    const redact = makeRedactor(['RED', 'a.b*c(d)']);
    assert.equal(redact('RED a.b*c(d) axbbc'), '[REDACTED] [REDACTED] axbbc');
  });
});

describe('the example apps', () => {
  // dist/test/unit/cli/ → the repository's copy of the examples in test/fixtures/kamal.
  const source = fileURLToPath(new URL('../../../../test/fixtures/kamal/mysql-cron-app/.kamal', import.meta.url));
  it('loads mysql-cron-app for production with its environment and config/master.key', async () => {
    assert.ok(existsSync(source), `${source} exists`);
    const dir = app({ 'config/master.key': 'master-key-value\n' });
    cpSync(source, join(dir, '.kamal'), { recursive: true });
    const store = await load(dir, 'production', { ...ENV, KAMAL_REGISTRY_PASSWORD: 'reg-pass', PRODUCTION_DB_PASSWORD: 'prod-db' });
    assert.deepEqual(
      Object.fromEntries(store.names().map((n) => [n, store.get(n)])),
      { DB_PASSWORD: 'prod-db', KAMAL_REGISTRY_PASSWORD: 'reg-pass', MYSQL_ROOT_PASSWORD: 'prod-db', RAILS_MASTER_KEY: 'master-key-value' },
    );
    assert.deepEqual(store.warnings, []);
    const staging = await load(dir, 'staging', { ...ENV, KAMAL_REGISTRY_PASSWORD: 'reg-pass' });
    assert.equal(staging.get('DB_PASSWORD'), '');
    assert.match(staging.warnings.join('\n'), /\.kamal\/secrets\.staging:2: \$STAGING_DB_PASSWORD is not set/);
  });
});
