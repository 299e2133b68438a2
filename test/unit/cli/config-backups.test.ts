// backups: in deploy.yml as a user writes them (the README's PostgreSQL
// example), at the top level or under x-berth:, never both; every refusal
// names the key path and file:line; each backup lands in the manifests of the
// hosts that take it, and `deploy config` shows them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../cli/config/load.js';
import { planContainers } from '../../../cli/config/plan.js';
import { backupFeatures, backupHosts, manifestBackups } from '../../../cli/manifest-backups.js';
import { main } from '../../../cli/main.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs, captureStream, testEnv } from '../../support/cli-fixtures.js';

const app = appDirs();
const RECIPIENT = 'age1fvnhawrecdtd3nhxk38lh6302zxcegwhk6z20yq9qcdnf54awf6syj4e88';
// Lines 1-22; the backups start at line 23 (x-berth:), their keys at line 25.
const BASE = `service: app
image: 127.0.0.1:5000/berth-test/web:latest
servers:
  web:
    - 10.0.0.5
    - 10.0.0.6
  worker:
    hosts:
      - 10.0.0.6
    cmd: bin/jobs
proxy:
  host: app.test
volumes:
  - uploads:/app/uploads
accessories:
  db:
    image: postgres:16
    host: 10.0.0.5
    env: { secret: [POSTGRES_PASSWORD] }
    directories: [ "data:/var/lib/postgresql/data" ]
    volumes: [ "pgwal:/wal" ]
x-berth:
`;
const SECRETS = { '.kamal/secrets': 'POSTGRES_PASSWORD=pw\n' };
const PG = `  backups:
    db:
      accessory: db
      user: postgres
      dump: pg_dump -Fc -Z0 -d app
      restore: pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction -d app
      verify: psql -d app -tAc "select count(*) from users"
      schedule: "0 3 * * *"
      keep: 14
      max_age: 30d
      recipient: ${RECIPIENT}
      before_deploy: true
      writers: [web]
`;

const loaded = (extra: string, base = BASE) => loadConfig(app({ 'deploy.yml': base + extra, ...SECRETS }));
const configOf = async (extra: string) => (await loaded(extra)).config;
async function configError(extra: string, base = BASE): Promise<string> {
  const err = await loaded(extra, base).then(() => assert.fail('expected a config error'), (e: unknown) => e);
  assert.ok(err instanceof ConfigError, String(err));
  return err.message;
}
/** One backup `b` under x-berth/backups with the given keys (6 spaces in). */
const one = (keys: string) => `  backups:\n    b:\n${keys.split('\n').filter(Boolean).map((l) => `      ${l}\n`).join('')}`;

describe('deploy.yml backups', () => {
  it('reads the PostgreSQL example: commands split like cmd, durations, defaults, kind inferred', async () => {
    const config = await configOf(PG);
    assert.deepEqual(config.backups?.db, {
      kind: 'accessory', accessory: 'db', user: 'postgres',
      dump: ['pg_dump', '-Fc', '-Z0', '-d', 'app'],
      restore: ['pg_restore', '--clean', '--if-exists', '--no-owner', '--exit-on-error', '--single-transaction', '-d', 'app'],
      verify: ['psql', '-d', 'app', '-tAc', 'select count(*) from users'],
      schedule: '0 3 * * *', timezone: 'UTC', keep: 14, max_age: 30 * 86400, compression: 'zstd', recipient: RECIPIENT,
      min_size: 1, timeout: 3600, before_deploy: true, writers: ['web'],
    });
  });

  it('places an accessory backup on its accessory\'s host and a volume backup on its role\'s hosts; only those manifests carry them', async () => {
    const config = await configOf(`${PG}    files:\n      volume: uploads\n      role: web\n      min_size: 10k\n      timeout: 90m\n      compression: gzip\n      path: /srv/backups\n    wal:\n      accessory: db\n      volume: pgwal\n`);
    const plan = planContainers(config);
    // Hosts as servers: holds them (with the agent port), as the manifest builder is given them.
    const [five, six] = ['10.0.0.5:7443', '10.0.0.6:7443'] as const;
    assert.deepEqual(backupHosts(config, plan, 'db'), [five]);
    assert.deepEqual(backupHosts(config, plan, 'files'), [five, six]);
    assert.deepEqual(Object.keys(manifestBackups(config, plan, five) ?? {}), ['db', 'files', 'wal']);
    assert.deepEqual(Object.keys(manifestBackups(config, plan, six) ?? {}), ['files']);
    const files = manifestBackups(config, plan, six)?.files;
    assert.deepEqual(files, { kind: 'volume', volume: 'uploads', timezone: 'UTC', keep: 7, compression: 'gzip', path: '/srv/backups', min_size: 10 * 1024, timeout: 5400, before_deploy: false, writers: [] });
    assert.equal(config.backups?.files?.role, 'web', 'the role stays in the config, never in the manifest');
    assert.equal(manifestBackups(config, plan, five)?.wal?.kind, 'volume');
    assert.deepEqual([five, six].map((h) => backupFeatures(config, plan, h)), [['backups.v1'], ['backups.v1']]);
    const dbOnly = await configOf(PG);
    assert.deepEqual([five, six].map((h) => backupFeatures(dbOnly, plan, h)), [['backups.v1'], []], 'only a host taking a backup needs backups.v1');
  });

  it('reads backups at the top level, and refuses them in both places', async () => {
    const top = BASE.replace('x-berth:\n', '') + PG.replace(/^ {2}/gm, '');
    assert.deepEqual(Object.keys((await loadConfig(app({ 'deploy.yml': top, ...SECRETS }))).config.backups ?? {}), ['db']);
    assert.equal(await configError(`${PG}backups: {}\n`), 'x-berth/backups: is also set at the top level (backups); keep one of backups and x-berth/backups (deploy.yml:23)');
  });

  it('refuses each mistake naming the key path and line', async () => {
    const cases: Array<[string, string]> = [
      ['accessory: cache\ndump: x\nrestore: y', 'x-berth/backups/b/accessory: "cache" is not in accessories (db) (deploy.yml:25)'],
      ['accessory: db\ndump: pg_dump -Fc', 'x-berth/backups/b/restore: is required for a backup of kind accessory (deploy.yml:24)'],
      ['volume: uploads\nverify: psql -c 1', 'x-berth/backups/b/verify: is for backups of kind accessory (it restores the dump into a throwaway accessory) (deploy.yml:26)'],
      ['kind: volume\naccessory: db\ndump: x\nrestore: y', 'x-berth/backups/b/dump: is for backups of kind accessory (a volume or directory is archived as tar) (deploy.yml:27)'],
      ['accessory: db\ndump: pg_dump | gzip\nrestore: y', 'x-berth/backups/b/dump:'],
      ['volume: uploads\nrecipient: AGE_KEY', 'x-berth/backups/b/recipient: should be the age recipient itself (age1…): it is a public key, so it is written out, not kept in a secret (deploy.yml:26)'],
      ['volume: uploads\nrecipient: age1nope', 'x-berth/backups/b/recipient: must be an age X25519 recipient (age1..., from age-keygen -y) (deploy.yml:26)'],
      ['volume: uploads\nschedule: "61 * * * *"', 'x-berth/backups/b/schedule:'],
      ['volume: uploads\nschedule: "@daily"\ntimezone: Mars/Base', 'x-berth/backups/b/timezone: "Mars/Base" is not an IANA time zone name (like UTC or Europe/Berlin) (deploy.yml:27)'],
      ['volume: uploads\npath: backups', 'x-berth/backups/b/path: must be an absolute path (deploy.yml:26)'],
      ['volume: uploads\nrole: db', 'x-berth/backups/b/role: "db" is not a role in servers (roles: web, worker) (deploy.yml:26)'],
      ['volume: nothere', 'x-berth/backups/b/volume: "nothere" is not a named volume of the app (top-level volumes:) (its volumes: uploads) (deploy.yml:25)'],
      ['accessory: db\ndirectory: logs', 'x-berth/backups/b/directory: "logs" is not a directory of accessory db (its directories: data); write an absolute host path otherwise (deploy.yml:26)'],
      ['directory: data', 'x-berth/backups/b/directory: names an accessory directory, so the backup needs `accessory` (deploy.yml:25)'],
      ['volume: uploads\nwriters: [worker]', 'x-berth/backups/b/writers/0: role worker does not run on 10.0.0.5, where this backup is taken and restored, so a restore there could not stop it (deploy.yml:26)'],
      ['volume: uploads\nwriters: [db]', 'x-berth/backups/b/writers/0: "db" is not a role in servers (roles: web, worker) (deploy.yml:26)'],
      ['volume: uploads\nmax_age: 30 days', 'x-berth/backups/b/max_age: should be a duration: seconds (300) or 90s, 5m, 1h, 1d (deploy.yml:26)'],
      ['volume: uploads\nmin_size: lots', 'x-berth/backups/b/min_size: should be a size: bytes (1048576) or 10k, 5m, 1g (deploy.yml:26)'],
      ['volume: uploads\nkeep: 0', 'x-berth/backups/b/keep: should be at least 1 (deploy.yml:26)'],
      ['volume: uploads\ncompression: xz', 'x-berth/backups/b/compression:'],
      ['volume: uploads\nfrequency: daily', 'x-berth/backups/b/frequency: unknown key (deploy.yml:26)'],
      ['schedule: "@daily"', 'x-berth/backups/b: needs what to back up: dump (with accessory and restore), volume, or directory (deploy.yml:24)'],
      ['accessory: db\nvolume: pgwal\nrole: web', 'x-berth/backups/b/role: is for backups without accessory; this one is taken where accessory db runs (deploy.yml:27)'],
    ];
    for (const [keys, expected] of cases) {
      const message = await configError(one(keys));
      assert.ok(message.includes(expected), `${keys}\n→ ${message}`);
    }
    assert.match(await configError(one('accessory: db\ndump: pg_dump | gzip\nrestore: y')), /shell|operator|\|/);
    assert.equal(await configError('  backups:\n    Bad.Name:\n      volume: uploads\n'), 'x-berth/backups/Bad.Name: backup names must be 1-63 of a-z, 0-9, "-", "_", starting with a letter or digit (deploy.yml:24)');
    const many = Array.from({ length: 33 }, (_, i) => `    b${i}:\n      volume: uploads\n`).join('');
    assert.equal(await configError(`  backups:\n${many}`), 'x-berth/backups: has 33 backups; at most 32 are allowed (deploy.yml:23)');
  });

  it('refuses a backup whose host runs no role of the app (push never reaches it)', async () => {
    const off = BASE.replace('    host: 10.0.0.5\n', '    host: 10.0.0.9\n');
    assert.equal(await configError(one('accessory: db\ndirectory: data'), off), 'x-berth/backups/b/accessory: 10.0.0.9 runs no role of the app, so deploy push never reaches it and the backup would not be taken there (deploy.yml:25)');
  });

  it('deploy config shows the backups', async () => {
    const dir = app({ 'deploy.yml': BASE + PG, ...SECRETS });
    const out = captureStream();
    const err = captureStream();
    const code = await main({ argv: ['config', '--json'], env: testEnv(dir), stdout: out.stream, stderr: err.stream });
    assert.equal(code, 0, err.text());
    const view = JSON.parse(out.text()) as { backups: Record<string, { dump: string[]; recipient: string }> };
    assert.deepEqual(view.backups.db?.dump, ['pg_dump', '-Fc', '-Z0', '-d', 'app']);
    assert.equal(view.backups.db?.recipient, RECIPIENT);
  });
});
