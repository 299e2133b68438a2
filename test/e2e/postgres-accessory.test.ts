// A real database accessory: the PostgreSQL test image booted by a real agent
// with a kept directory for its data. Rows written through psql survive a
// reboot; the dump and restore commands backups of kind accessory run (here
// through plain docker exec) give a custom-format dump that brings deleted
// rows back, and a truncated dump is refused with the table left as it was.
// Host (TCP) connections need the sealed POSTGRES_PASSWORD.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ManifestPayload } from '../../shared/manifest.js';
import { seal } from '../../shared/sealing.js';
import { docker } from '../support/docker-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { PGDATA, execBytes, postgresImageByDigest, psql, waitHealthy } from '../support/postgres.js';
import { agentId, loadKey, postResigned, rawRequest, signedRequest, storedPayload, type OperatorKey } from '../support/signed-client.js';
import { waitFor } from '../support/wait.js';

const DUMP = ['pg_dump', '-Fc', '-Z0', '-U', 'postgres', '-d', 'app'];
const RESTORE = ['pg_restore', '--clean', '--if-exists', '--no-owner', '--exit-on-error', '--single-transaction', '-U', 'postgres', '-d', 'app'];

let e: E2eApp;
let key: OperatorKey;
let aud: string;
let engine: string;
let container: string;

const api = (method: string, path: string, body = '') => signedRequest(e.hosts[0]!, key, aud, method, `/v1/services/${e.service}${path}`, body);
const count = async () => (await psql(engine, container, 'select count(*) from users;')).trim();

before(async () => {
  e = await setupApp('pgacc');
  await e.hosts[0]!.trust(e.keyLine, 'admin');
  key = loadKey(e.app.keyFile);
  aud = await agentId(e.hosts[0]!);
  engine = e.hosts[0]!.engine.host;
  const r = await e.push('v1');
  assert.equal(r.code, 0, explain(r, e));
  const stored = await storedPayload(e.hosts[0]!, key, aud, e.service, 'v1');
  const identity = await rawRequest(e.hosts[0]!, 'GET', '/v1/identity', '');
  const password = await seal('pg-t3st-pw', identity.body.sealing_jwk, { use: 'accessory-env', service: e.service, destination: '', accessory: 'db', name: 'POSTGRES_PASSWORD' });
  const db = { image: await postgresImageByDigest(), env: { clear: { POSTGRES_DB: 'app' }, secret: { POSTGRES_PASSWORD: password } }, files: [], directories: [{ source: 'pgdata', target: PGDATA }] };
  const posted = await postResigned(e.hosts[0]!, key, aud, stored, stored.seq + 1, { accessories: { db } } as Partial<ManifestPayload>);
  assert.equal(posted.status, 202, JSON.stringify(posted.body));
  const id = posted.body.deploy.id as number;
  const done = await waitFor('the deploy to end', async () => {
    const d = await signedRequest(e.hosts[0]!, key, aud, 'GET', `/v1/deploys/${id}`);
    return ['DONE', 'REVERTED', 'FAILED'].includes(d.body.deploy.state) ? d.body : undefined;
  }, 180_000, { intervalMs: 250 });
  assert.equal(done.deploy.state, 'DONE', JSON.stringify(done.events.map((x: { message: string }) => x.message)));
  const listed = await api('GET', '/accessories?destination=');
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  container = listed.body.accessories[0].container as string;
  await waitHealthy(engine, container);
});
after(async () => e?.teardown());

test('the cluster lives in the kept directory and its rows survive a reboot', async () => {
  const dir = join(realpathSync(e.hosts[0]!.stateDir), 'accessories', e.service, 'db', 'dirs', 'pgdata');
  assert.ok(statSync(join(dir, 'PG_VERSION')).isFile(), 'initdb wrote the cluster into the kept directory');
  await psql(engine, container, "create table users (id int primary key, name text not null); insert into users select i, 'user ' || i from generate_series(1, 100) i;");
  assert.equal(await count(), '100');

  const rebooted = await api('POST', '/accessories/db/reboot?destination=', '{}');
  assert.equal(rebooted.status, 200, JSON.stringify(rebooted.body));
  container = (await api('GET', '/accessories?destination=')).body.accessories[0].container as string;
  await waitHealthy(engine, container);
  assert.equal(await count(), '100');
  assert.equal((await psql(engine, container, 'select name from users where id = 42;')).trim(), 'user 42');
});

test('pg_dump -Fc gives a custom-format dump; pg_restore from stdin brings deleted rows back', async () => {
  const dump = await execBytes(engine, container, DUMP);
  assert.equal(dump.code, 0, dump.stderr);
  assert.equal(dump.stdout.subarray(0, 5).toString('latin1'), 'PGDMP');
  assert.ok(dump.stdout.length > 1000, `dump of ${dump.stdout.length} bytes`);

  await psql(engine, container, 'delete from users where id > 10;');
  assert.equal(await count(), '10');
  const restored = await execBytes(engine, container, RESTORE, dump.stdout);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(await count(), '100');

  // A cut dump fails as a whole (one transaction): the table keeps its rows.
  await psql(engine, container, 'delete from users where id > 50;');
  const cut = await execBytes(engine, container, RESTORE, dump.stdout.subarray(0, Math.floor(dump.stdout.length * 0.6)));
  assert.notEqual(cut.code, 0, 'a truncated dump must not restore');
  assert.match(cut.stderr, /pg_restore: error/);
  assert.equal(await count(), '50');
});

test('host connections authenticate with the sealed POSTGRES_PASSWORD', async () => {
  const overTcp = (password: string) => docker(engine, ['exec', '-e', `PGPASSWORD=${password}`, container, 'psql', '-X', '-tA', '-h', '127.0.0.1', '-U', 'postgres', '-d', 'app', '-c', 'select 7']);
  const good = await overTcp('pg-t3st-pw');
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout.trim(), '7');
  const bad = await overTcp('wrong');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /password authentication failed for user "postgres"/);
});
