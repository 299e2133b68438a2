// Scopes, operator locks and `deploy remove`, with the real CLI against a real
// agent, router and Docker engine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKeyLine } from '../../shared/keys.js';
import { AppDir } from '../support/deploy-cli.js';
import { setupApp, explain, type E2eApp } from '../support/e2e-app.js';
import { containerNameOn } from '../support/signed-client.js';

const apps: E2eApp[] = [];
const extraDirs: AppDir[] = [];
after(async () => {
  for (const a of apps) await a.teardown();
  for (const d of extraDirs) d.cleanup();
});

type Run = Awaited<ReturnType<AppDir['run']>>;

function json<T>(r: Run): T {
  return JSON.parse(r.stdout) as T;
}

/** Container names and states, sorted: what `docker ps -a` shows for the service. */
async function containerState(e: E2eApp): Promise<string[]> {
  return (await e.containers()).map((c) => `${c.name} ${c.state}`).sort();
}

async function auditEntries(e: E2eApp): Promise<Array<{ action: string; key_id: string; detail: Record<string, unknown> }>> {
  const r = await e.app.run(['audit', '-n', '1000', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  return json<{ entries: Array<{ action: string; key_id: string; detail: Record<string, unknown> }> }>(r).entries;
}

async function seqOf(e: E2eApp): Promise<number> {
  const r = await e.app.run(['status', '--json']);
  assert.equal(r.code, 0, explain(r, e));
  return json<{ servers: Array<{ service: { seq: number } | null }> }>(r).servers[0]!.service?.seq ?? 0;
}

async function lockRows(app: AppDir): Promise<Array<{ host: string; lock: { key_id: string; message: string } | null }>> {
  const r = await app.run(['lock', 'status', '--json']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return json<{ servers: Array<{ host: string; lock: { key_id: string; message: string } | null }> }>(r).servers;
}

/** A second operator in their own app directory, trusted on every host with `scope`. */
async function secondOperator(e: E2eApp, name: string, scope: string): Promise<{ app: AppDir; kid: string }> {
  const app = new AppDir(name);
  extraDirs.push(app);
  const keys = await app.run(['keys', 'new', '--comment', `${name}@laptop`]);
  assert.equal(keys.code, 0, keys.stderr);
  for (const h of e.hosts) await h.trust(keys.stdout.trim(), scope);
  app.writeConfig(readFileSync(join(e.app.dir, 'deploy.yml'), 'utf8'));
  for (const h of e.hosts) {
    const r = await app.run(['server', 'add', h.server]);
    assert.equal(r.code, 0, r.stderr);
  }
  return { app, kid: (await parseKeyLine(keys.stdout.trim())).kid };
}

test('a read-scoped key can read status and audit, but cannot deploy, lock, unlock or remove', async () => {
  const e = await setupApp('scoperead');
  apps.push(e);
  const first = await e.push('r1');
  assert.equal(first.code, 0, explain(first, e));
  const reader = await secondOperator(e, 'reader', 'read');

  const containersBefore = await containerState(e);
  const seqBefore = await seqOf(e);
  const auditBefore = await auditEntries(e);

  // Deploy: 403, nothing changed.
  e.configure('v2');
  reader.app.writeConfig(readFileSync(join(e.app.dir, 'deploy.yml'), 'utf8'));
  const push = await reader.app.run(['push', '--version', 'r2']);
  assert.equal(push.code, 1, explain(push, e));
  assert.match(push.stderr, /scope read; this needs deploy/);
  assert.deepEqual(await containerState(e), containersBefore);
  assert.equal(await seqOf(e), seqBefore);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');

  // Locks: cannot take one, cannot release someone else's.
  const acquire = await reader.app.run(['lock', 'acquire', '-m', 'mine now']);
  assert.equal(acquire.code, 1, explain(acquire, e));
  assert.match(acquire.stderr, /this needs deploy/);
  assert.deepEqual((await lockRows(e.app)).map((r) => r.lock), [null]);

  const owner = await e.app.run(['lock', 'acquire', '-m', 'release freeze']);
  assert.equal(owner.code, 0, explain(owner, e));
  const auditLocked = await auditEntries(e);
  const release = await reader.app.run(['lock', 'release']);
  assert.equal(release.code, 1, explain(release, e));
  assert.match(release.stderr, /this needs deploy/);
  assert.equal((await lockRows(e.app))[0]!.lock?.message, 'release freeze', 'the lock is still held');
  assert.deepEqual(await auditEntries(e), auditLocked, 'a refused release writes no audit row');
  assert.equal((await e.app.run(['lock', 'release'])).code, 0);

  // Remove needs admin.
  const remove = await reader.app.run(['remove', '-y']);
  assert.equal(remove.code, 1, explain(remove, e));
  assert.match(remove.stderr, /this needs admin/);
  assert.deepEqual(await containerState(e), containersBefore);

  // Reading is allowed.
  const status = await reader.app.run(['status']);
  assert.equal(status.code, 0, explain(status, e));
  assert.match(status.stdout, /r1/);
  const audit = await reader.app.run(['audit']);
  assert.equal(audit.code, 0, explain(audit, e));
  assert.match(audit.stdout, /release\.accepted/);
  assert.match(audit.stdout, /lock\.released/);

  // Nothing the reader tried left a trace: only the owner's lock and unlock were added.
  const added = (await auditEntries(e)).slice(0, -auditBefore.length || undefined).map((a) => a.action);
  assert.deepEqual(added, ['lock.released', 'lock.acquired']);
  assert.ok((await auditEntries(e)).every((a) => a.key_id !== reader.kid), 'no audit row carries the read key');
});

test('an operator lock refuses deploys naming holder, since and message; release lets them through', async () => {
  const e = await setupApp('oplock');
  apps.push(e);
  const first = await e.push('r1');
  assert.equal(first.code, 0, explain(first, e));
  const kid = (await parseKeyLine(e.keyLine)).kid;
  const comment = e.keyLine.split(' ').slice(2).join(' ');

  const details = await e.app.run(['details']);
  assert.equal(details.code, 0, explain(details, e));
  assert.match(details.stdout, /release:\s+r1 \(seq \d+, deploy #1, /);
  assert.match(details.stdout, /lock:\s+none/);
  const r1Name = await containerNameOn(e.hosts[0]!, 'oplock', 'web', 'r1');
  assert.match(details.stdout, new RegExp(`NAME\\s+ROLE\\s+RELEASE\\s+STATE\\s+STATUS\\n\\s+${r1Name}\\s+web\\s+r1\\s+running\\s+running`));
  assert.match(details.stdout, new RegExp(`${e.hostHeader.replace('.', '\\.')} → \\d+\\.\\d+\\.\\d+\\.\\d+:80`));

  const acquire = await e.app.run(['lock', 'acquire', '-m', 'database migration running']);
  assert.equal(acquire.code, 0, explain(acquire, e));
  assert.match(acquire.stdout, /^HOST\s+LOCKED\s+BY\s+SINCE\s+MESSAGE\n.*\byes\b.*database migration running/m);

  const containersBefore = await containerState(e);
  const seqBefore = await seqOf(e);
  e.configure('v2');
  const refused = await e.push('r2');
  assert.equal(refused.code, 1, explain(refused, e));
  assert.ok(refused.stderr.includes(`is locked by key ${kid} (${comment}) since 20`), refused.stderr);
  assert.match(refused.stderr, /: database migration running/);
  assert.match(refused.stderr, /deploy lock release/);
  assert.deepEqual(await containerState(e), containersBefore, 'nothing deployed');
  assert.equal(await seqOf(e), seqBefore, 'nothing stored');
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');

  const second = await e.app.run(['lock', 'acquire', '-m', 'me too']);
  assert.equal(second.code, 1, explain(second, e));
  assert.ok(second.stderr.includes(`locked by key ${kid}`), second.stderr);
  assert.match(second.stderr, /database migration running/);
  assert.equal((await lockRows(e.app))[0]!.lock?.message, 'database migration running', 'the first lock stands');

  const status = await e.app.run(['status']);
  assert.match(status.stdout, /LOCK/);
  assert.match(status.stdout, /locked by /);

  const release = await e.app.run(['lock', 'release']);
  assert.equal(release.code, 0, explain(release, e));
  assert.deepEqual((await lockRows(e.app)).map((r) => r.lock), [null]);
  const again = await e.app.run(['lock', 'release']);
  assert.equal(again.code, 0, 'releasing an unlocked service is not an error');

  const ok = await e.push('r2');
  assert.equal(ok.code, 0, explain(ok, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');

  const actions = (await auditEntries(e)).map((a) => a.action);
  assert.ok(actions.indexOf('lock.released') < actions.indexOf('lock.acquired'), 'newest first');
  assert.equal(actions.filter((a) => a === 'lock.acquired').length, 1, 'the refused second acquire is not audited');
  assert.equal(actions.filter((a) => a === 'release.accepted').length, 2, 'the refused push is not audited');
});

test('deploy remove: refused without confirmation and while locked; with -y the service is gone from Docker and the router', async () => {
  const e = await setupApp('removeme');
  apps.push(e);
  // Removing needs admin; setupApp trusts the operator with deploy.
  for (const h of e.hosts) await h.trust(e.keyLine, 'admin');
  const first = await e.push('r1');
  assert.equal(first.code, 0, explain(first, e));
  e.configure('v2');
  const second = await e.push('r2');
  assert.equal(second.code, 0, explain(second, e));
  const before = await containerState(e);
  assert.equal(before.length, 2, 'the running release and the retained one');

  const unconfirmed = await e.app.run(['remove']);
  assert.equal(unconfirmed.code, 2, explain(unconfirmed, e));
  assert.match(unconfirmed.stderr, /-y/);
  assert.deepEqual(await containerState(e), before);
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v2\n');

  assert.equal((await e.app.run(['lock', 'acquire', '-m', 'keep it'])).code, 0);
  const locked = await e.app.run(['remove', '-y']);
  assert.equal(locked.code, 1, explain(locked, e));
  assert.match(locked.stderr, /is locked by key .*keep it/);
  assert.deepEqual(await containerState(e), before);
  assert.equal((await e.app.run(['lock', 'release'])).code, 0);

  const seqBefore = await seqOf(e);
  const removed = await e.app.run(['remove', '-y']);
  assert.equal(removed.code, 0, explain(removed, e));
  assert.match(removed.stdout, /removed 2 container\(s\), 1 route\(s\)/);
  assert.deepEqual(await containerState(e), [], 'every container of the service is gone');
  const served = await e.hosts[0]!.get(e.hostHeader);
  assert.notEqual(served.status, 200);
  assert.match(served.body, /no service for host/);

  const audit = (await auditEntries(e)).find((a) => a.action === 'service.removed');
  assert.ok(audit, 'the removal is audited');
  assert.deepEqual([...(audit.detail.containers as string[])].sort(), before.map((c) => c.split(' ')[0]).sort());
  const shown = await e.app.run(['audit']);
  assert.match(shown.stdout, /service\.removed\s+containers=/);

  // The seq stays, so manifests signed before the removal stay refused; a new push works.
  assert.equal(await seqOf(e), seqBefore);
  const details = await e.app.run(['details']);
  assert.equal(details.code, 0, explain(details, e));
  assert.match(details.stdout, /release:\s+none/);
  assert.match(details.stdout, /no containers/);

  const twice = await e.app.run(['remove', '-y', '--json']);
  assert.equal(twice.code, 0, explain(twice, e));
  assert.deepEqual(json<{ servers: Array<{ removed: unknown }> }>(twice).servers[0]!.removed, { containers: [], routes: 0 });

  e.configure('v1');
  const back = await e.push('r3');
  assert.equal(back.code, 0, explain(back, e));
  assert.equal((await e.hosts[0]!.get(e.hostHeader)).body, 'v1\n');
});
