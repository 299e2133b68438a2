// Backups of a real PostgreSQL accessory through the CLI, as an operator runs
// them: rows written, `deploy backup run` takes a dump the agent verifies in a
// throwaway copy of the database, the rows change, `deploy backup restore`
// brings them back. Retention drops the oldest file; a failing dump and a
// damaged stored file are recorded failures with a non-zero exit and nothing
// changed; an encrypted backup is restored only with the operator's identity;
// a before_deploy backup is tied to the release it preceded and `deploy
// rollback` names it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackupRecord } from '../../shared/api-types.js';
import { containersByLabel } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { PGDATA, postgresImage, psql, waitHealthy } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

let e: E2eApp;
let engine: string;
let identityFile: string;
let recipient: string;

const PG_COMMANDS = `    user: postgres
    dump: pg_dump -Fc -Z0 -d app
    restore: pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction -d app`;

function config(): string {
  return `accessories:
  db:
    image: ${postgresImage()}
    host: 127.0.0.2
    env:
      clear:
        POSTGRES_DB: app
      secret:
        - POSTGRES_PASSWORD
    directories:
      - pgdata:${PGDATA}
backups:
  db:
    accessory: db
${PG_COMMANDS}
    verify: psql -d app -tAc "select count(*) from users"
    keep: 2
    before_deploy: true
  sealed:
    accessory: db
${PG_COMMANDS}
    recipient: ${recipient}
  broken:
    accessory: db
    user: postgres
    dump: pg_dump -Fc -d no_such_database
    restore: pg_restore -d app
`;
}

async function run(args: string[], code = 0): Promise<string> {
  const r = await e.app.run(args);
  assert.equal(r.code, code, explain(r, e));
  return r.stdout;
}

const dbContainer = async () => {
  const [c] = (await containersByLabel(engine, 'berth.accessory=db')).filter((x) => x.labels['berth.service'] === e.service && x.state === 'running');
  assert.ok(c, 'the db accessory runs');
  return c.name;
};
const sql = async (text: string) => psql(engine, await dbContainer(), text);
const count = async () => (await sql('select count(*) from users;')).trim();
const ndjson = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const ended = (out: string) => ndjson(out).filter((l) => l.event === 'ended').map((l) => l.record as BackupRecord);
const records = async (name: string) => {
  const listed = JSON.parse(await run(['backup', 'list', name, '--json'])) as { servers: Array<{ backups?: { records: BackupRecord[] } }> };
  return listed.servers.flatMap((s) => s.backups?.records ?? []);
};
const backupDir = (name: string) => join(e.hosts[0]!.stateDir, 'backups', e.service, name);

before(async () => {
  e = await setupApp('bkps');
  await e.hosts[0]!.trust(e.keyLine, 'admin');
  engine = e.hosts[0]!.engine.host;
  identityFile = join(e.app.dir, 'backup-identity.txt');
  const key = JSON.parse(await run(['backup', 'keygen', '-o', identityFile, '--json'])) as { recipient: string };
  recipient = key.recipient;
  mkdirSync(join(e.app.dir, '.kamal'), { recursive: true });
  writeFileSync(join(e.app.dir, '.kamal', 'secrets'), 'POSTGRES_PASSWORD=pg-e2e-pw\n');
  e.configure('v1', config());
  const r = await e.push('r1');
  assert.equal(r.code, 0, explain(r, e));
  await waitHealthy(engine, await dbContainer());
  await sql("create table users (id int primary key, name text not null); insert into users select i, 'user ' || i from generate_series(1, 100) i;");
});
after(async () => e?.teardown());

test('a verified dump, rows changed, restore brings them back; the download matches the recorded checksum', async () => {
  const [taken] = ended(await run(['backup', 'run', 'db', '--json']));
  assert.equal(taken?.outcome, 'ok', JSON.stringify(taken));
  assert.equal(taken?.verify, 'passed', 'verify restored the dump into a throwaway database and counted the rows');
  assert.match(taken?.verify_output ?? '', /100/);
  assert.match(taken?.sha256 ?? '', /^[0-9a-f]{64}$/);

  await sql('delete from users where id > 10;');
  assert.equal(await count(), '10');
  const [restored] = ended(await run(['backup', 'restore', 'db', '-y', '--json']));
  assert.equal(restored?.id, taken?.id, 'without an ID the newest good backup is restored');
  assert.equal(await count(), '100');

  const out = join(e.app.dir, 'db.dump.zst');
  const got = JSON.parse(await run(['backup', 'download', String(taken?.id), '-o', out, '--json'])) as { sha256: string; size: number };
  const bytes = readFileSync(out);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), taken?.sha256);
  assert.deepEqual([got.sha256, got.size], [taken?.sha256, taken?.size]);
});

test('retention keeps the two newest good backups; the oldest file is deleted', async () => {
  for (let i = 0; i < 2; i++) assert.equal(ended(await run(['backup', 'run', 'db', '--json']))[0]?.outcome, 'ok');
  const ok = (await records('db')).filter((r) => r.outcome === 'ok');
  assert.ok(ok.length >= 3, JSON.stringify(ok));
  assert.deepEqual(ok.slice(0, 3).map((r) => r.stored), [true, true, false], 'newest first: two kept, the third deleted');
  assert.equal(readdirSync(backupDir('db')).filter((f) => !f.startsWith('.')).length, 2);
});

test('a failing dump is a recorded failure, never the newest good backup', async () => {
  const r = await e.app.run(['backup', 'run', 'broken', '--json']);
  assert.equal(r.code, 1, explain(r, e));
  const [failed] = ended(r.stdout);
  assert.equal(failed?.outcome, 'failed');
  assert.match(failed?.reason ?? '', /no_such_database/);
  const listed = JSON.parse(await run(['backup', 'list', 'broken', '--json'])) as { servers: Array<{ backups?: { backups: Array<{ name: string; newest_good: number | null }> } }> };
  assert.equal(listed.servers[0]?.backups?.backups.find((b) => b.name === 'broken')?.newest_good, null);
});

test('a damaged stored file fails download and restore, and the database is left as it was', async () => {
  const [newest] = (await records('db')).filter((r) => r.outcome === 'ok' && r.stored);
  assert.ok(newest);
  const file = readdirSync(backupDir('db')).find((f) => f.startsWith(`db-${newest.id}-`));
  assert.ok(file, 'the newest file is on disk');
  const path = join(backupDir('db'), file);
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
  writeFileSync(path, bytes);

  const out = join(e.app.dir, 'damaged.zst');
  const download = await e.app.run(['backup', 'download', String(newest.id), '-o', out]);
  assert.notEqual(download.code, 0, explain(download, e));
  assert.match(download.stderr, /checksum mismatch/);
  assert.equal(existsSync(out), false, 'nothing is left under the asked name');

  await sql('delete from users where id > 20;');
  const restore = await e.app.run(['backup', 'restore', 'db', String(newest.id), '-y']);
  assert.notEqual(restore.code, 0, explain(restore, e));
  assert.match(restore.stderr, /checksum|damaged|corrupt/i);
  assert.equal(await count(), '20', 'the database was not touched');
});

test('an encrypted backup is restored only with the identity', async () => {
  await sql("insert into users select i, 'user ' || i from generate_series(21, 100) i;");
  const [sealed] = ended(await run(['backup', 'run', 'sealed', '--json']));
  assert.equal(sealed?.outcome, 'ok', JSON.stringify(sealed));
  assert.equal(sealed?.recipient, recipient);
  const file = readdirSync(backupDir('sealed')).find((f) => f.startsWith(`sealed-${sealed?.id}-`));
  assert.ok(file?.endsWith('.age'), String(file));
  assert.equal(readFileSync(join(backupDir('sealed'), file ?? '')).subarray(0, 21).toString('latin1'), 'age-encryption.org/v1');

  await sql('delete from users where id > 5;');
  const without = await e.app.run(['backup', 'restore', 'sealed', '-y'], { env: { BERTH_BACKUP_IDENTITY: '' } });
  assert.notEqual(without.code, 0, explain(without, e));
  assert.match(without.stderr, /identity/);
  assert.equal(await count(), '5');
  await run(['backup', 'restore', 'sealed', '-y', '--identity', identityFile]);
  assert.equal(await count(), '100');
});

test('a before_deploy backup is taken before the switch, tied to the release; rollback names it', async () => {
  const pushed = await e.push('r2');
  assert.equal(pushed.code, 0, explain(pushed, e));
  const tied = await waitFor('the before_deploy backup to be listed', async () =>
    (await records('db')).find((r) => r.trigger === 'before_deploy'), 30_000);
  assert.deepEqual([tied.outcome, tied.release, tied.for_release], ['ok', 'r1', 'r2']);

  const back = await e.app.run(['rollback', 'r1']);
  assert.equal(back.code, 0, explain(back, e));
  assert.match(back.stderr, new RegExp(`backup db #${tied.id} on [^ ]+ was taken while r1 was live: deploy backup restore db ${tied.id}`));
});
