// deploy backup … against two local fake agents (real HTTPS, pinned): A on
// 127.0.0.1 runs the db accessory (backup db, encrypted to an identity made by
// `deploy backup keygen`), A and B (127.0.0.2) run the web role (backup files,
// a volume). What each server is asked, what is printed, files left on disk
// and exit codes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, beforeEach, describe, it } from 'node:test';
import { restoreHints } from '../../../cli/actions/backup-hints.js';
import { loadFleet } from '../../../cli/rollout/fleet.js';
import { createPrinter } from '../../../cli/output/printer.js';
import { plainStyle } from '../../../cli/output/style.js';
import { encryptStream } from '../../../shared/age.js';
import type { BackupRecord, BackupStatus } from '../../../shared/api-types.js';
import { captureStream, cliRunner, startAgentPair, tempDir, testEnv, type FakeAgent, type RecordedRequest } from '../../support/cli-fixtures.js';

const sha = (b: Buffer, enc: 'hex' | 'base64url' = 'hex') => createHash('sha256').update(b).digest(enc);

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function ndjson(res: ServerResponse, lines: unknown[]): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.end(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
}

function record(over: Partial<BackupRecord>): BackupRecord {
  return {
    id: 1, service: 'demo', destination: '', backup: 'files', kind: 'volume', trigger: 'schedule', started_at: '2026-12-01T03:00:00.000Z', ended_at: '2026-12-01T03:00:04.000Z',
    duration_ms: 4000, outcome: 'ok', reason: '', size: 1536, raw_size: 4096, sha256: 'ab'.repeat(32), plain_sha256: 'ab'.repeat(32), compression: 'zstd', recipient: null,
    release: 'v1', for_release: null, image: null, verify: null, verify_output: '', notify: null, stored: true, ...over,
  };
}

function status(over: Partial<BackupStatus>): BackupStatus {
  return {
    name: 'files', kind: 'volume', source: 'uploads', schedule: '0 3 * * *', timezone: 'UTC', next_run: '2026-12-02T03:00:00.000Z', keep: 7, max_age: null,
    compression: 'zstd', encrypted: false, verify: false, before_deploy: false, path: '/var/lib/berth/backups', running: false, last: null, newest_good: 1, ...over,
  };
}

interface Modes { bDown: boolean; bRunFails: boolean; corrupt: boolean; /** List answers that show db #7 unencrypted (older than the agent's word). */ stale: number }
/** What A stores for the encrypted db backup #7 (set in before()). */
const stored = { encrypted: Buffer.alloc(0), plain: Buffer.alloc(0), recipient: '' };
const dbRecord = () => record({ id: 7, backup: 'db', kind: 'accessory', sha256: sha(stored.encrypted), plain_sha256: sha(stored.plain), size: stored.encrypted.length, recipient: stored.recipient, verify: 'passed', image: 'postgres@sha256:' + 'cd'.repeat(32) });

/** The request token's claims (not verified: the fake checks what was signed). */
const claimsOf = (req: RecordedRequest) => JSON.parse(Buffer.from(String(req.headers.authorization).split(' ')[1]!.split('.')[1]!, 'base64url').toString()) as { bh: string };

function routesFor(name: 'A' | 'B', modes: Modes) {
  const base = '/v1/services/demo/backups';
  return (req: RecordedRequest, res: ServerResponse) => {
    const { method, url } = req;
    if (name === 'B' && modes.bDown) return reply(res, 503, { error: { code: 'unavailable', message: 'the agent is shutting down' } });
    const stale = method === 'GET' && url.startsWith(`${base}?`) && modes.stale > 0 && modes.stale-- > 0;
    const records = name === 'A' ? [stale ? { ...dbRecord(), recipient: null } : dbRecord(), record({ id: 6, outcome: 'failed', reason: 'volume uploads is missing', size: null, sha256: null, plain_sha256: null, stored: false, release: 'v2' }), record({ id: 5 })] : [record({ id: 3 })];
    if (method === 'GET' && url.startsWith(`${base}?destination=`)) {
      const backups = name === 'A' ? [status({ name: 'db', kind: 'accessory', source: 'db', encrypted: true, verify: true, newest_good: 7 }), status({ newest_good: 5 })] : [status({ newest_good: 3 })];
      const only = new URL(url, 'https://agent').searchParams.get('backup');
      return reply(res, 200, { release: 'v2', backups: backups.filter((x) => !only || x.name === only), records: records.filter((r) => !only || r.backup === only) });
    }
    if (method === 'POST' && url === `${base}/files/run?destination=`) {
      const failed = name === 'B' && modes.bRunFails;
      const r = record({ id: 9, trigger: 'manual', ...(failed ? { outcome: 'failed', reason: 'tar exited 2', size: null, sha256: null } : {}) });
      return ndjson(res, [{ event: 'started', record: { ...r, outcome: 'running', ended_at: null } }, { event: 'step', message: 'archiving volume uploads' }, { event: 'ended', record: r }]);
    }
    const file = new RegExp(`^${base}/files/(\\d+)\\?destination=$`).exec(url);
    if (method === 'GET' && file) {
      const r = dbRecord();
      if (Number(file[1]) !== 7 || name !== 'A') return reply(res, 404, { error: { code: 'not_found', message: `no backup #${file[1]} of demo here` } });
      res.writeHead(200, {
        'content-type': 'application/octet-stream', 'content-length': String(stored.encrypted.length), 'content-disposition': 'attachment; filename="demo-db-7.dump.zst.age"',
        'x-berth-sha256': modes.corrupt ? 'ee'.repeat(32) : r.sha256!, 'x-berth-backup': Buffer.from(JSON.stringify(r)).toString('base64url'),
      });
      return res.end(stored.encrypted);
    }
    if (method === 'POST' && url === `${base}/db/restore?destination=`) return reply(res, 409, { error: { code: 'backup_encrypted', message: 'backup #7 is encrypted' } });
    if (method === 'PUT' && url === `${base}/db/restore/7?destination=`) {
      // What the agent checks: the signed body hash, and the plaintext's hash against the record.
      if (claimsOf(req).bh !== sha(req.body, 'base64url')) return reply(res, 401, { error: { code: 'unauthorized', message: 'bh does not match the request body' } });
      if (sha(req.body) !== dbRecord().plain_sha256) return reply(res, 409, { error: { code: 'backup_corrupt', message: 'the upload is not the backup' } });
      return ndjson(res, [{ event: 'started', record: dbRecord() }, { event: 'step', message: 'stopping web' }, { event: 'ended', record: dbRecord(), restored: true }]);
    }
    if (method === 'POST' && url === `${base}/files/restore?destination=`) return ndjson(res, [{ event: 'ended', record: records.at(-1), restored: true }]);
    reply(res, 404, { error: { code: 'not_found', message: `no route for ${method} ${url}` } });
  };
}

describe('deploy backup against two agents', () => {
  const dir = tempDir();
  const xdg = join(dir.path, 'xdg');
  const modes: Modes = { bDown: false, bRunFails: false, corrupt: false, stale: 0 };
  let a: FakeAgent;
  let b: FakeAgent;
  let hostA: string;
  let hostB: string;
  const run = cliRunner(dir.path, xdg);
  const sent = () => [...a.requests.map((r) => ['A', r.method, r.url]), ...b.requests.map((r) => ['B', r.method, r.url])].filter((r) => r[2] !== '/v1/identity');
  const identity = join(dir.path, 'backup-identity.txt');

  before(async () => {
    const made = await run(['backup', 'keygen', '-o', identity]);
    assert.equal(made.code, 0, made.stderr);
    stored.recipient = /^recipient: (age1\w+)$/m.exec(made.stdout)?.[1] ?? '';
    stored.plain = randomBytes(300 * 1024);
    stored.encrypted = await buffer(Readable.from([stored.plain]).pipe(encryptStream(stored.recipient)));
    ({ a, b, hostA, hostB } = await startAgentPair(dir.path, run, (name) => routesFor(name, modes), {
      bHost: '127.0.0.2',
      config: (x, y) => [
        'service: demo', 'image: 127.0.0.1:5000/demo:latest',
        'servers:', '  web:', '    hosts:', `      - ${x}`, `      - ${y}`,
        'proxy:', '  host: demo.test', 'volumes:', '  - uploads:/app/uploads',
        'accessories:', '  db:', '    image: postgres:16', '    host: 127.0.0.1', '    directories: [ "data:/var/lib/postgresql/data" ]',
        'x-berth:', '  backups:',
        '    db:', '      accessory: db', '      user: postgres', '      dump: pg_dump -Fc -Z0 -d app', '      restore: pg_restore --clean -d app', `      recipient: ${stored.recipient}`, '      writers: [web]',
        '    files:', '      volume: uploads', '      schedule: "0 3 * * *"',
        '',
      ].join('\n'),
    }));
  });
  beforeEach(() => {
    Object.assign(modes, { bDown: false, bRunFails: false, corrupt: false, stale: 0 });
    a.requests.length = 0;
    b.requests.length = 0;
  });
  after(async () => {
    await a.close();
    await b.close();
    dir.cleanup();
  });

  it('keygen writes a 0600 identity file, prints the recipient line, and never overwrites it', async () => {
    assert.equal(statSync(identity).mode & 0o777, 0o600);
    assert.match(readFileSync(identity, 'utf8'), /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/m);
    assert.match(stored.recipient, /^age1[0-9a-z]{58}$/);
    const again = await run(['backup', 'keygen', '-o', identity]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists; not overwritten/);
  });

  it('list: per server the backups with schedule, next run and newest good, then the records; --json has the answers', async () => {
    const res = await run(['backup', 'list']);
    assert.equal(res.code, 0, res.stderr);
    const out = res.stdout;
    assert.match(out, new RegExp(`^${hostA}\\n  db \\(accessory db\\): 0 3 \\* \\* \\*, next 2026-12-02 03:00:00; newest good #7; keep 7; encrypted, verified\\n`));
    assert.match(out, /\n {2}ID +NAME +WHEN +SIZE +SHA256 +VERIFIED +OUTCOME +REASON\n {2}7 +db +2026-12-01 03:00:00 +\d+\.\d KiB +[0-9a-f]{12} +yes +ok +-\n/);
    assert.match(out, /\n {2}6 +files +2026-12-01 03:00:00 +- +- +- +FAILED +volume uploads is missing\n/);
    assert.match(out, /\n {2}5 +files +.* +1\.5 KiB +abababababab +- +ok +-\n/);
    assert.match(out, new RegExp(`\\n${hostB}\\n  files \\(volume uploads\\)`));
    const json = await run(['backup', 'list', 'files', '--limit', '5', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as { backup: string; servers: Array<{ host: string; backups: { records: BackupRecord[] } }> };
    assert.equal(doc.backup, 'files');
    assert.deepEqual(doc.servers.map((s) => [s.host, s.backups.records.map((r) => r.id)]), [[hostA, [6, 5]], [hostB, [3]]]);
    assert.ok(sent().some(([, m, u]) => m === 'GET' && u === '/v1/services/demo/backups?destination=&backup=files&limit=5'));
  });

  it('list exits non-zero when a server cannot be asked, after showing the others', async () => {
    modes.bDown = true;
    const res = await run(['backup', 'list']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, new RegExp(`${hostB}\\n  error: .*shutting down`));
    assert.match(res.stdout, / {2}7 +db /);
  });

  it('run NAME: on every server taking it, progress and a summary per server; a failed run exits 1', async () => {
    let res = await run(['backup', 'run', 'files']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent().map((r) => r.slice(0, 2)).sort(), [['A', 'POST'], ['B', 'POST']]);
    assert.match(res.stderr, new RegExp(`${hostA}: archiving volume uploads`));
    assert.match(res.stdout, new RegExp(`${hostB}: files #9 ok, 1\\.5 KiB, sha256 abababababab, 4\\.0s`));
    modes.bRunFails = true;
    res = await run(['backup', 'run', 'files']);
    assert.equal(res.code, 1);
    assert.match(res.stdout, new RegExp(`${hostB}: files #9 FAILED: tar exited 2`));
    res = await run(['backup', 'run', 'files', '--host', hostA, '--json']);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(res.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { host: string; event: string }).event), ['started', 'step', 'ended']);
    res = await run(['backup', 'run', 'nightly']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no backup named "nightly" in deploy\.yml \(backups: db, files\)/);
  });

  it('download ID needs --host with several servers, checks the SHA-256, and leaves nothing behind on a mismatch', async () => {
    let res = await run(['backup', 'download', '7']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /needs --host: backup IDs are per server/);
    modes.corrupt = true;
    res = await run(['backup', 'download', '7', '--host', hostA, '-o', 'db.age']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`checksum mismatch: expected ${'ee'.repeat(32)}, got ${sha(stored.encrypted)} \\(the stored file on ${hostA.replace(/\./g, '\\.')} is damaged\\)`));
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.includes('db')), []);
    modes.corrupt = false;
    res = await run(['backup', 'download', '7', '--host', hostA]);
    assert.equal(res.code, 0, res.stderr);
    const saved = join(dir.path, 'demo-db-7.dump.zst.age');
    assert.ok(readFileSync(saved).equals(stored.encrypted));
    assert.match(res.stdout, new RegExp(`^${saved}\\n  size ${stored.encrypted.length} bytes\\n  sha256 ${sha(stored.encrypted)}\\n$`));
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.endsWith('.part')), []);
  });

  it('restore refuses without -y off a terminal; nothing is asked of a server', async () => {
    const res = await run(['backup', 'restore', 'files']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /deploy backup restore files replaces data and needs confirmation/);
    assert.deepEqual(sent(), []);
  });

  it('restore of an encrypted backup: refused without an identity; with it, downloaded, decrypted here and the plaintext uploaded', async () => {
    let res = await run(['backup', 'restore', 'db', '-y']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /is encrypted to age1.*needs the identity/);
    a.requests.length = 0;
    const temps = () => readdirSync(tmpdir()).filter((f) => f.startsWith('berth-restore-'));
    const before = temps();
    res = await run(['backup', 'restore', 'db', '-y', '--identity', identity]);
    assert.equal(res.code, 0, res.stderr);
    const put = a.requests.find((r) => r.method === 'PUT');
    assert.ok(put && put.body.equals(stored.plain), 'the body is the plaintext');
    assert.deepEqual(sent().map((r) => r.slice(1).join(' ')), [
      'GET /v1/services/demo/backups?destination=&backup=db&limit=500', 'GET /v1/services/demo/backups/files/7?destination=', 'PUT /v1/services/demo/backups/db/restore/7?destination=',
    ]);
    assert.match(res.stderr, /stopping web/);
    assert.match(res.stdout, new RegExp(`${hostA}: db #7 ok, .*: restored`));
    assert.deepEqual(temps().filter((f) => !before.includes(f)), [], 'the encrypted and the plaintext temp files are gone');
  });

  it('restore answered 409 backup_encrypted (the list looked plain) reads the record again and decrypts', async () => {
    modes.stale = 1;
    const res = await run(['backup', 'restore', 'db', '7', '-y', '--host', hostA, '--identity', identity]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(sent().map((r) => r.slice(1).join(' ')), [
      'GET /v1/services/demo/backups?destination=&backup=db&limit=500', 'POST /v1/services/demo/backups/db/restore?destination=',
      'GET /v1/services/demo/backups?destination=&backup=db&limit=500', 'GET /v1/services/demo/backups/files/7?destination=', 'PUT /v1/services/demo/backups/db/restore/7?destination=',
    ]);
  });

  it('restore of a plain backup is the agent\'s, on every server taking it', async () => {
    const res = await run(['backup', 'restore', 'files', '-y']);
    assert.equal(res.code, 0, res.stderr);
    assert.ok(sent().some(([n, m, u]) => n === 'B' && m === 'POST' && u === '/v1/services/demo/backups/files/restore?destination='));
  });

  it('after a rollback: a hint per server for the newest good backup taken while that release was live', async () => {
    const stderr = captureStream();
    const ctx = {
      env: testEnv(dir.path, { xdgConfigHome: xdg }), printer: createPrinter(captureStream().stream, stderr.stream), style: plainStyle, json: false, live: false,
      globals: { json: false, verbose: false, help: false, config: undefined, destination: undefined, key: undefined },
    };
    const fleet = await loadFleet(ctx);
    assert.deepEqual(await restoreHints(fleet, 'v1'), [
      `backup db #7 on ${hostA} was taken while v1 was live: deploy backup restore db 7 --host ${hostA}`,
      `backup files #5 on ${hostA} was taken while v1 was live: deploy backup restore files 5 --host ${hostA}`,
      `backup files #3 on ${hostB} was taken while v1 was live: deploy backup restore files 3 --host ${hostB}`,
    ]);
    assert.deepEqual(await restoreHints(fleet, 'v2'), [], 'v2\'s only backup failed');
  });
});
