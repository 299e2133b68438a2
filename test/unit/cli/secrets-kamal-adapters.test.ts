// `$(kamal secrets fetch …)` + `$(kamal secrets extract …)` in a real
// .kamal/secrets, loaded by the CLI's secret loader, against stand-in vendor
// CLIs on PATH that answer only the exact arguments Kamal passes (the calls in
// Kamal's own adapter tests) with the vendor's documented output shape.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSecrets } from '../../../cli/secrets/load.js';
import { runShellCommand } from '../../../cli/secrets/run-command.js';
import { appDirs, rejectsConfigError } from '../../support/cli-fixtures.js';
import { standIn, standInPath, type StandInCall } from '../../support/vendor-cli.js';

const app = appDirs('berth-kamal-secrets-');

/** An app dir with `secrets` as .kamal/secrets and the stand-ins in bin/. */
function setup(secrets: string, clis: Record<string, StandInCall[]>) {
  const dir = app({ '.kamal/secrets': secrets });
  const bin = join(dir, 'bin');
  const logs = Object.fromEntries(Object.entries(clis).map(([program, calls]) => [program, standIn(bin, program, [{ args: ['--version'], stdout: '1.0.0\n' }, ...calls])]));
  const load = (env: Record<string, string> = {}) => loadSecrets(dir, undefined, { PATH: standInPath(bin), ...env }, runShellCommand);
  return { dir, load, calls: (program: string) => logs[program]!.calls().map((c) => c.args.join(' ')), sessions: (program: string) => logs[program]!.calls().map((c) => c.env.BW_SESSION) };
}

function values(store: { names(): string[]; get(n: string): string }, names: string[]) {
  return Object.fromEntries(names.map((n) => [n, store.get(n)]));
}

const opField = (vault: string, item: string, section: string, label: string, value: string) => ({
  id: 'aaaaaaaaaaaaaaaaaaaaaaaaaa',
  section: { id: 'cccccccccccccccccccccccccc', label: section },
  type: 'CONCEALED',
  label,
  value,
  reference: `op://${vault}/${item}/${section}/${label}`,
});

describe('1Password (op)', () => {
  // A value that must survive fetch's shell-escaping and extract's splitting byte for byte.
  const TRICKY = `pa$$ w"o'r)d (é) \\ $(x) #1`;

  it('fetches several fields of an item once, with --from op://vault/item, and extracts by last segment and by full name', async () => {
    const t = setup(
      [
        'SECRETS=$(kamal secrets fetch --adapter 1password --account myaccount --from op://myvault/myitem section/SECRET1 section/SECRET2 section2/SECRET3)',
        'ONE=$(kamal secrets extract SECRET1 $SECRETS)',
        'TWO=$(kamal secrets extract section/SECRET2 ${SECRETS})',
        'THREE=$(kamal secrets extract myvault/myitem/section2/SECRET3 $SECRETS)',
      ].join('\n'),
      {
        op: [
          { args: ['account', 'get', '--account', 'myaccount'], stdout: '{}' },
          {
            args: ['item', 'get', 'myitem', '--vault', 'myvault', '--format', 'json', '--account', 'myaccount', '--fields', 'label=section.SECRET1,label=section.SECRET2,label=section2.SECRET3'],
            stdout: JSON.stringify([opField('myvault', 'myitem', 'section', 'SECRET1', 'VALUE1'), opField('myvault', 'myitem', 'section', 'SECRET2', TRICKY), opField('myvault', 'myitem', 'section2', 'SECRET3', 'VALUE3')], null, 2),
          },
        ],
      },
    );
    const store = await t.load();
    assert.deepEqual(values(store, ['ONE', 'TWO', 'THREE']), { ONE: 'VALUE1', TWO: TRICKY, THREE: 'VALUE3' });
    // Kamal stores fetch's JSON shell-escaped (its --inline form), so a shell command could use $SECRETS too.
    assert.match(store.get('SECRETS'), /^\\\{\\"myvault\/myitem\/section\/SECRET1\\":\\"VALUE1\\",/);
    assert.deepEqual(t.calls('op').slice(0, 2), ['--version', 'account get --account myaccount']);
    assert.equal(t.calls('op').length, 3, 'one op item get for the three fields');
  });

  it('groups secrets by item, and a field name alone means the password field', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch -a 1password --account=myaccount --from op://myvault myitem/section/SECRET1 myitem2)\nA=$(kamal secrets extract SECRET1 $SECRETS)\nB=$(kamal secrets extract myitem2 $SECRETS)', {
      op: [
        { args: ['account', 'get', '--account', 'myaccount'] },
        { args: ['item', 'get', 'myitem', '--vault', 'myvault', '--format', 'json', '--account', 'myaccount', '--fields', 'label=section.SECRET1'], stdout: JSON.stringify(opField('myvault', 'myitem', 'section', 'SECRET1', 'VALUE1')) },
        { args: ['item', 'get', 'myitem2', '--vault', 'myvault', '--format', 'json', '--account', 'myaccount', '--fields', 'label=password'], stdout: JSON.stringify({ ...opField('myvault', 'myitem2', 'x', 'password', 'PW2'), reference: 'op://myvault/myitem2/password' }) },
      ],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B']), { A: 'VALUE1', B: 'PW2' });
  });

  it('fetches every field of the item when no secret is named', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter 1password --account myaccount --from op://myvault/myitem)\nA=$(kamal secrets extract SECRET2 $SECRETS)', {
      op: [
        { args: ['account', 'get', '--account', 'myaccount'] },
        { args: ['item', 'get', 'myitem', '--vault', 'myvault', '--format', 'json', '--account', 'myaccount'], stdout: JSON.stringify({ id: 'x', title: 'A title', fields: [opField('myvault', 'myitem', 'section', 'SECRET1', 'V1'), opField('myvault', 'myitem', 'section', 'SECRET2', 'V2')] }) },
      ],
    });
    assert.equal((await t.load()).get('A'), 'V2');
  });

  it('signs in when `op account get` fails, and passes the session op signin printed', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter 1password --account myaccount --from op://myvault/myitem section/SECRET1)\nA=$(kamal secrets extract SECRET1 $SECRETS)', {
      op: [
        { args: ['account', 'get', '--account', 'myaccount'], exit: 1 },
        { args: ['signin', '--account', 'myaccount', '--force', '--raw'], stdout: '1234567890\n' },
        { args: ['item', 'get', 'myitem', '--vault', 'myvault', '--format', 'json', '--account', 'myaccount', '--session', '1234567890', '--fields', 'label=section.SECRET1'], stdout: JSON.stringify(opField('myvault', 'myitem', 'section', 'SECRET1', 'VALUE1')) },
      ],
    });
    assert.equal((await t.load()).get('A'), 'VALUE1');
  });

  it('fails clearly when op cannot sign in without a terminal, showing nothing op printed', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter 1password --account myaccount --from op://myvault/myitem section/SECRET1)', {
      op: [
        { args: ['account', 'get', '--account', 'myaccount'], exit: 1 },
        { args: ['signin', '--account', 'myaccount', '--force', '--raw'], exit: 1, stdout: 'leaked-stdout-s3cret', stderr: 'leaked-stderr-s3cret' },
      ],
    });
    const error = await rejectsConfigError(t.load(), /^\.kamal\/secrets:1: `kamal secrets fetch`: Failed to login to 1Password \(op exited with 1\)$/, ['s3cret']);
    assert.match(error.hint ?? '', /without a terminal.*op signin --account/);
  });
});

describe('Bitwarden (bw)', () => {
  const item = (name: string, extra: object) => JSON.stringify({ object: 'item', id: 'aaaaaaaa-cccc-eeee-0000-222222222222', type: 1, name, notes: null, ...extra });
  const status = (s: string) => JSON.stringify({ serverUrl: null, lastSync: '2024-09-04T10:11:12.433Z', userEmail: 'email@example.com', status: s });

  it('unlocks a locked vault, uses the session for sync and get, and reads a login password and item fields', async () => {
    const session = { BW_SESSION: '0987654321' };
    const t = setup('SECRETS=$(kamal secrets fetch --adapter bitwarden --account email@example.com mypassword myitem/field1 myitem/field3)\nA=$(kamal secrets extract mypassword $SECRETS)\nB=$(kamal secrets extract field3 $SECRETS)', {
      bw: [
        { args: ['status'], env: session, stdout: status('unlocked') },
        { args: ['status'], stdout: status('locked') },
        { args: ['unlock', '--raw'], stdout: '0987654321' },
        { args: ['sync'], env: session, stdout: '' },
        { args: ['get', 'item', 'mypassword'], env: session, stdout: item('mypassword', { login: { username: null, password: 'secret123' } }) },
        {
          args: ['get', 'item', 'myitem'],
          env: session,
          stdout: item('myitem', { fields: [{ name: 'field1', value: 'secret1', type: 1 }, { name: 'field3', value: 'fewgrwjgk', type: 1 }], login: { password: null } }),
        },
      ],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B']), { A: 'secret123', B: 'fewgrwjgk' });
    assert.deepEqual(t.calls('bw'), ['--version', 'status', 'unlock --raw', 'status', 'sync', 'get item mypassword', 'get item myitem']);
    assert.deepEqual(t.sessions('bw').slice(3), ['0987654321', '0987654321', '0987654321', '0987654321']);
  });

  it('names the field that an item lacks, and refuses a note with no fields', async () => {
    const calls = [{ args: ['status'], stdout: status('unlocked') }, { args: ['sync'] }, { args: ['get', 'item', 'myitem'], stdout: item('myitem', { fields: [{ name: 'field1', value: 'secret1' }] }) }, { args: ['get', 'item', 'mynote'], stdout: item('mynote', { type: 2, secureNote: { type: 0 } }) }];
    await rejectsConfigError(setup('S=$(kamal secrets fetch --adapter bitwarden --account a@b.c --from myitem nope)', { bw: calls }).load(), /Could not find field nope in item myitem in Bitwarden$/, ['secret1']);
    await rejectsConfigError(setup('S=$(kamal secrets fetch --adapter bitwarden --account a@b.c mynote)', { bw: calls }).load(), /Item mynote is not a login type item and no fields were specified$/);
  });

  it('fails with a hint when the vault stays locked (bw cannot prompt)', async () => {
    const t = setup('S=$(kamal secrets fetch --adapter bitwarden --account a@b.c mypassword)', { bw: [{ args: ['status'], stdout: status('locked') }, { args: ['unlock', '--raw'], exit: 1, stderr: 'Master password is required' }] });
    const error = await rejectsConfigError(t.load(), /Failed to login to and unlock Bitwarden$/);
    assert.match(error.hint ?? '', /BW_SESSION/);
  });
});

describe('AWS Secrets Manager (aws)', () => {
  const secret = (name: string, secretString: string) => ({ ARN: `arn:aws:secretsmanager:us-east-1:aaaaaaaaaaaa:secret:${name}`, Name: name, VersionId: 'v', SecretString: secretString, VersionStages: ['AWSCURRENT'], CreatedDate: '2024-01-01T00:00:00.000000' });

  it('reads JSON-object and plain secrets in one call with the profile, keyed name/member', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter aws_secrets_manager --account default secret secret2 port)\nA=$(kamal secrets extract KEY2 $SECRETS)\nB=$(kamal secrets extract secret2 $SECRETS)\nC=$(kamal secrets extract secret/PORT $SECRETS)\nD=$(kamal secrets extract port $SECRETS)', {
      aws: [
        {
          args: ['secretsmanager', 'batch-get-secret-value', '--secret-id-list', 'secret', 'secret2', 'port', '--profile', 'default', '--output', 'json'],
          stdout: JSON.stringify({ SecretValues: [secret('secret', '{"KEY1":"VALUE1", "KEY2":"VALUE2", "PORT": 5432}'), secret('secret2', 'a-string-secret'), secret('port', '12345678901234567890')], Errors: [] }),
        },
      ],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B', 'C', 'D']), { A: 'VALUE2', B: 'a-string-secret', C: '5432', D: '12345678901234567890' });
  });

  it('prefixes with --from and leaves --profile out without --account', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter aws_secrets_manager --from myapp KEY1)\nA=$(kamal secrets extract KEY1 $SECRETS)', {
      aws: [{ args: ['secretsmanager', 'batch-get-secret-value', '--secret-id-list', 'myapp/KEY1', '--output', 'json'], stdout: JSON.stringify({ SecretValues: [secret('myapp/KEY1', 'VALUE1')], Errors: [] }) }],
    });
    assert.equal((await t.load()).get('A'), 'VALUE1');
  });

  it("reports AWS's per-secret errors", async () => {
    const t = setup('S=$(kamal secrets fetch --adapter aws_secrets_manager unknown1)', {
      aws: [{ args: ['secretsmanager', 'batch-get-secret-value', '--secret-id-list', 'unknown1', '--output', 'json'], stdout: JSON.stringify({ SecretValues: [], Errors: [{ SecretId: 'unknown1', ErrorCode: 'ResourceNotFoundException', Message: "Secrets Manager can't find the specified secret." }] }) }],
    });
    await rejectsConfigError(t.load(), /: unknown1: Secrets Manager can't find the specified secret\.$/);
  });
});

describe('GCP Secret Manager (gcloud)', () => {
  const access = (data: string) => JSON.stringify({ name: 'projects/000000000/secrets/x/versions/1', payload: { data: Buffer.from(data).toString('base64'), dataCrc32c: '1' } });
  const authed = { args: ['auth', 'list', '--format=json'], stdout: JSON.stringify([{ account: 'email@example.com', status: 'ACTIVE' }]) };

  it("reads from gcloud's default project, from --from's project, at a version, keyed project/name", async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter gcp --account default mypassword other-project/item2/123)\nA=$(kamal secrets extract mypassword $SECRETS)\nB=$(kamal secrets extract other-project/item2 $SECRETS)', {
      gcloud: [authed, { args: ['secrets', 'versions', 'access', 'latest', '--secret=mypassword', '--format=json'], stdout: access('secret123') }, { args: ['secrets', 'versions', 'access', '123', '--secret=item2', '--project=other-project', '--format=json'], stdout: access('secret2') }],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B']), { A: 'secret123', B: 'secret2' });
  });

  it('passes the user and the impersonation chain from --account user|sa1,sa2', async () => {
    const t = setup("SECRETS=$(kamal secrets fetch --adapter gcp_secret_manager --account 'user@example.com|sa@example.com,sa2@example.com' --from some-project item1)\nA=$(kamal secrets extract item1 $SECRETS)", {
      gcloud: [authed, { args: ['secrets', 'versions', 'access', 'latest', '--secret=item1', '--project=some-project', '--account=user@example.com', '--impersonate-service-account=sa@example.com,sa2@example.com', '--format=json'], stdout: access('secret1') }],
    });
    assert.equal((await t.load()).get('A'), 'secret1');
  });

  it('fails when no account is logged in even after gcloud auth login', async () => {
    const t = setup('S=$(kamal secrets fetch --adapter gcp --account default mypassword)', { gcloud: [{ args: ['auth', 'list', '--format=json'], stdout: '[]' }, { args: ['auth', 'login'], exit: 1 }] });
    await rejectsConfigError(t.load(), /could not login to gcloud$/);
  });
});

describe('Doppler (doppler)', () => {
  const got = JSON.stringify({ SECRET1: { computed: 'secret1', computedVisibility: 'unmasked', note: '' }, FSECRET1: { computed: 'fsecret1', computedVisibility: 'unmasked', note: '' } });

  it('gets all names in one call with -p/-c from --from, keyed by bare name', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter doppler --from my-project/prd SECRET1 FSECRET1)\nA=$(kamal secrets extract FSECRET1 $SECRETS)', {
      doppler: [{ args: ['me', '--json'], stdout: '{}' }, { args: ['secrets', 'get', 'SECRET1', 'FSECRET1', '--json', '-p', 'my-project', '-c', 'prd'], stdout: got }],
    });
    assert.equal((await t.load()).get('A'), 'fsecret1');
  });

  it('leaves out -p/-c with a service token in DOPPLER_TOKEN, and requires them otherwise', async () => {
    const calls = [{ args: ['me', '--json'] }, { args: ['secrets', 'get', 'SECRET1', 'FSECRET1', '--json'], stdout: got }];
    const t = setup('SECRETS=$(kamal secrets fetch --adapter doppler SECRET1 FSECRET1)\nA=$(kamal secrets extract SECRET1 $SECRETS)', { doppler: calls });
    assert.equal((await t.load({ DOPPLER_TOKEN: 'dp.st.xxxxxxxx' })).get('A'), 'secret1');
    await rejectsConfigError(t.load(), /Missing project or config from '--from=project\/config' option$/);
  });
});

describe('LastPass (lpass)', () => {
  const entry = (fullname: string, password: string) => ({ id: '1', name: fullname.split('/').pop(), fullname, username: '', password, group: '', url: '', note: '' });

  it('checks the login, shows all entries in one call, keyed by folder/name', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter lastpass --account email@example.com SECRET1 FOLDER1/FSECRET1)\nA=$(kamal secrets extract FSECRET1 $SECRETS)\nB=$(kamal secrets extract SECRET1 $SECRETS)', {
      lpass: [{ args: ['status', '--color', 'never'], stdout: 'Logged in as email@example.com.\n' }, { args: ['show', 'SECRET1', 'FOLDER1/FSECRET1', '--json'], stdout: JSON.stringify([entry('SECRET1', 'secret1'), entry('FOLDER1/FSECRET1', 'fsecret1')]) }],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B']), { A: 'fsecret1', B: 'secret1' });
  });

  it('logs in when not logged in, and names entries lpass did not return', async () => {
    const t = setup('S=$(kamal secrets fetch --adapter lastpass --account email@example.com --from FOLDER1 FSECRET1 FSECRET2)', {
      lpass: [{ args: ['status', '--color', 'never'], stdout: 'Not logged in.\n', exit: 1 }, { args: ['login', 'email@example.com'] }, { args: ['show', 'FOLDER1/FSECRET1', 'FOLDER1/FSECRET2', '--json'], stdout: JSON.stringify([entry('FOLDER1/FSECRET1', 'fsecret1')]) }],
    });
    await rejectsConfigError(t.load(), /Could not find FOLDER1\/FSECRET2 in LastPass$/, ['fsecret1']);
    assert.deepEqual(t.calls('lpass'), ['--version', 'status --color never', 'login email@example.com', 'show FOLDER1/FSECRET1 FOLDER1/FSECRET2 --json']);
  });
});

describe('Bitwarden Secrets Manager (bws)', () => {
  it('checks the token with `bws project list`, then gets each secret by id, or lists a project', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter bitwarden-sm 82aeb5bd-6958-4a89-8197-eacab758acce)\nA=$(kamal secrets extract KAMAL_REGISTRY_PASSWORD $SECRETS)\nALL=$(kamal secrets fetch --adapter bitwarden-sm --from 52f2bd3e all)\nB=$(kamal secrets extract OTHER $ALL)', {
      bws: [
        { args: ['project', 'list'], stdout: '[]' },
        { args: ['secret', 'get', '82aeb5bd-6958-4a89-8197-eacab758acce'], stdout: JSON.stringify({ id: '82aeb5bd-6958-4a89-8197-eacab758acce', key: 'KAMAL_REGISTRY_PASSWORD', value: 'reg-pass', projectId: 'p' }) },
        { args: ['secret', 'list', '52f2bd3e'], stdout: JSON.stringify([{ key: 'OTHER', value: 'other-value' }]) },
      ],
    });
    assert.deepEqual(values(await t.load(), ['A', 'B']), { A: 'reg-pass', B: 'other-value' });
  });
});

describe('Enpass (enpass-cli)', () => {
  it('shows the items of the vault in --from once; an item gives all its passwords as title/label, title/label just one', async () => {
    const vault = '/Users/me/Documents/Vaults/primary';
    const t = setup('SECRETS=$(kamal secrets fetch --adapter enpass --from /Users/me/Documents/Vaults/primary FooBar Other/DB_PASSWORD)\nA=$(kamal secrets extract FooBar/SECRET_1 $SECRETS)\nB=$(kamal secrets extract DB_PASSWORD $SECRETS)\nC=$(kamal secrets extract FooBar $SECRETS)', {
      'enpass-cli': [
        { args: ['version'], stdout: 'enpass-cli 1.6.0\n' },
        {
          args: ['-json', '-vault', vault, 'show', 'FooBar', 'Other'],
          stdout: JSON.stringify([
            { category: 'computer', label: 'SECRET_1', login: '', password: 'my-password-1', title: 'FooBar', type: 'password' },
            { category: 'computer', label: '', login: '', password: 'unlabelled', title: 'FooBar', type: 'password' },
            { category: 'computer', label: 'DB_PASSWORD', login: '', password: 'db-password', title: 'Other', type: 'password' },
            { category: 'computer', label: 'NOT_ASKED', login: '', password: 'not-asked', title: 'Other', type: 'password' },
          ]),
        },
      ],
    });
    const store = await t.load();
    assert.deepEqual(values(store, ['A', 'B', 'C']), { A: 'my-password-1', B: 'db-password', C: 'unlabelled' });
    assert.ok(!store.get('SECRETS').includes('not-asked'), 'only the passwords asked for');
    assert.deepEqual(t.calls('enpass-cli'), ['version', `-json -vault ${vault} show FooBar Other`], 'Kamal checks enpass-cli with `version`');
  });
});

describe('Passbolt (passbolt)', () => {
  const resource = (name: string, parent: string, password: string) => ({ id: `id-${name}`, folder_parent_id: parent, name, username: '', uri: '', password, description: '' });
  const folder = (id: string, name: string, parent = '') => ({ id, folder_parent_id: parent, name });
  const PROJECT = 'dcbe0e39-42d8-42db-9637-8256b9f2f8e3';
  const SUB = '6a3f21fc-aa40-4ba9-852c-7477fdd0310d';

  it('filters root-level names in one call', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter passbolt SECRET1 FSECRET1)\nA=$(kamal secrets extract FSECRET1 $SECRETS)', {
      passbolt: [{ args: ['verify'] }, { args: ['list', 'resources', '--filter', 'Name == "SECRET1" || Name == "FSECRET1"', '--column', 'name', '--column', 'password', '--json'], stdout: JSON.stringify([resource('FSECRET1', '', 'fsecret1'), resource('SECRET1', '', 'secret1')]) }],
    });
    assert.equal((await t.load()).get('A'), 'fsecret1');
  });

  it('finds a nested folder level by level and filters by its id', async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter passbolt --from my-project/subfolder SECRET1 FSECRET1)\nA=$(kamal secrets extract SECRET1 $SECRETS)', {
      passbolt: [
        { args: ['verify'] },
        { args: ['list', 'folders', '--filter', 'Name == "my-project"', '--json'], stdout: JSON.stringify([folder(PROJECT, 'my-project')]) },
        { args: ['list', 'folders', '--filter', `Name == "subfolder" && FolderParentID == "${PROJECT}"`, '--json'], stdout: JSON.stringify([folder(SUB, 'subfolder', PROJECT)]) },
        {
          args: ['list', 'resources', '--filter', `(Name == "SECRET1" && FolderParentID == "${SUB}") || (Name == "FSECRET1" && FolderParentID == "${SUB}")`, '--folder', PROJECT, '--folder', SUB, '--column', 'name', '--column', 'password', '--json'],
          stdout: JSON.stringify([resource('SECRET1', SUB, 'secret1'), resource('FSECRET1', SUB, 'fsecret1')]),
        },
      ],
    });
    assert.equal((await t.load()).get('A'), 'secret1');
  });

  it("quotes a folder id as Kamal does (shell-escaped, then Ruby's inspect), and names missing folders and secrets", async () => {
    const t = setup('SECRETS=$(kamal secrets fetch --adapter passbolt my-project/SECRET1)\nA=$(kamal secrets extract SECRET1 $SECRETS)', {
      passbolt: [
        { args: ['verify'] },
        { args: ['list', 'folders', '--filter', 'Name == "my-project"', '--json'], stdout: JSON.stringify([folder('abc def-123', 'my-project')]) },
        { args: ['list', 'resources', '--filter', '(Name == "SECRET1" && FolderParentID == "abc\\\\ def-123")', '--folder', 'abc def-123', '--column', 'name', '--column', 'password', '--json'], stdout: JSON.stringify([resource('SECRET1', 'abc def-123', 'secret1')]) },
      ],
    });
    assert.equal((await t.load()).get('A'), 'secret1');
    const none = setup('S=$(kamal secrets fetch --adapter passbolt nope/SECRET1)', { passbolt: [{ args: ['verify'] }, { args: ['list', 'folders', '--filter', 'Name == "nope"', '--json'], stdout: '[]' }] });
    await rejectsConfigError(none.load(), /Could not find the following folders in Passbolt: nope$/);
    const missing = setup('S=$(kamal secrets fetch --adapter passbolt A B)', { passbolt: [{ args: ['verify'] }, { args: ['list', 'resources', '--filter', 'Name == "A" || Name == "B"', '--column', 'name', '--column', 'password', '--json'], stdout: JSON.stringify([resource('A', '', 'a-s3cret')]) }] });
    await rejectsConfigError(missing.load(), /Could not find the following secrets in Passbolt: B$/, ['a-s3cret']);
  });
});
