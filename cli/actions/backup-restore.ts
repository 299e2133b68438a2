// deploy backup restore NAME [ID]: replaces the data a backup was taken of
// with the backup, on each server that takes it (or --host). It asks first on
// a terminal, and needs -y elsewhere. A plain backup is restored by the agent
// from the file it keeps. An encrypted one cannot be (the agent never holds
// the identity): the CLI downloads it (checksum checked), decrypts it with
// --identity into a 0600 temp file, checks that against the record's
// plain_sha256 and uploads it; the temp files are deleted whatever happens
// (a Ctrl-C too).

import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { decryptStream, parseIdentityFile } from '../../shared/age.js';
import type { BackupRecord } from '../../shared/api-types.js';
import { BerthError, UpstreamError, UserError } from '../../shared/errors.js';
import { formatServerAddress } from '../address.js';
import { readBackups, restoreBackup, uploadRestore, type BackupEvent } from '../agent-api/backup-endpoints.js';
import type { AgentClient } from '../agent-api/client.js';
import type { ServiceRef } from '../agent-api/endpoints.js';
import type { RunContext } from '../command.js';
import type { DeployConfig } from '../config/types.js';
import { askLine } from '../prompt.js';
import { loadFleet, onEveryServer } from '../rollout/fleet.js';
import { hostsFailure } from '../rollout/hosts.js';
import { backupServers, checkBackupName } from './backup.js';
import { hashing } from '../../shared/hash-stream.js';
import { removeOnSignal } from '../remove-on-signal.js';
import { backupId, fetchBackupFile } from './backup-download.js';
import { IDENTITY_ENV } from './backup-keygen.js';
import { eventLine, runSummary } from './backup-render.js';

type Ask = (question: string) => Promise<string>;

export interface RestoreOptions {
  name: string;
  id: string | undefined;
  host: string | undefined;
  confirmed: boolean;
  identity: string | undefined;
}

function dataOf(config: DeployConfig, name: string): string {
  const b = config.backups?.[name];
  if (!b) return name;
  if (b.kind === 'accessory') return `accessory ${b.accessory} (${b.restore?.join(' ') ?? 'its restore command'})`;
  return b.kind === 'volume' ? `volume ${b.volume}` : `directory ${b.directory}`;
}

async function confirm(ctx: RunContext, o: RestoreOptions, what: string, ask: Ask): Promise<void> {
  if (o.confirmed) return;
  if (!ctx.env.stdinIsTTY) throw new UserError(`deploy backup restore ${o.name} replaces data and needs confirmation`, 'run it on a terminal, or pass -y (--confirmed)', 'usage');
  const answer = await ask(`${what}\nType the backup name to confirm: `);
  if (answer.trim() !== o.name) throw new UserError('not confirmed; nothing was restored', `type ${o.name} exactly, or pass -y`, 'not_confirmed');
}

/** The identity file's text: --identity, else $BERTH_BACKUP_IDENTITY; checked before anything is downloaded. */
async function identityText(ctx: RunContext, flag: string | undefined, record: BackupRecord): Promise<string> {
  const path = flag ?? ctx.env.processEnv[IDENTITY_ENV];
  if (!path) throw new UserError(`backup ${record.backup} #${record.id} is encrypted to ${record.recipient}; restoring it needs the identity`, `pass --identity FILE (or set ${IDENTITY_ENV}), the file deploy backup keygen wrote`, 'usage');
  let text: string;
  try {
    text = await readFile(resolve(ctx.env.cwd, path), 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the identity file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  parseIdentityFile(text);
  return text;
}

/** The record a restore will use: ID, or the newest good one (outcome ok and still stored). */
async function recordFor(client: AgentClient, ref: ServiceRef, name: string, id: number | undefined): Promise<BackupRecord | undefined> {
  const answer = await readBackups(client, ref, { backup: name, limit: 500 });
  const records = (answer?.records ?? []).filter((r) => r.backup === name);
  return id === undefined ? records.find((r) => r.outcome === 'ok' && r.stored) : records.find((r) => r.id === id);
}

/** Downloads, decrypts and uploads an encrypted backup; the plaintext lives only in a 0600 temp file, deleted after. */
async function* encryptedRestore(client: AgentClient, ref: ServiceRef, record: BackupRecord, identity: string, say: (line: string) => void): AsyncGenerator<BackupEvent> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-restore-'));
  const disarm = removeOnSignal(dir);
  try {
    say(`${client.label}: downloading backup #${record.id} (${record.size ?? '?'} bytes, encrypted)`);
    const fetched = await fetchBackupFile(client, ref, record.id, () => join(dir, 'encrypted'));
    const plain = join(dir, 'plain');
    const h = hashing();
    try {
      await pipeline(createReadStream(fetched.path), decryptStream(identity), h.stream, createWriteStream(plain, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      throw new UserError(`cannot decrypt backup #${record.id} with this identity: ${err instanceof Error ? err.message : String(err)}`, `it is encrypted to ${record.recipient}; use the identity file of that recipient`);
    }
    const hex = h.digest().toString('hex');
    if (hex !== record.plain_sha256) throw new UpstreamError(`checksum mismatch after decryption: expected ${record.plain_sha256}, got ${hex} (backup #${record.id} on ${client.label} is damaged)`, undefined, 'backup_corrupt');
    say(`${client.label}: decrypted (${h.size()} bytes, sha256 ${hex.slice(0, 12)}); uploading`);
    yield* uploadRestore(client, ref, record.backup, record.id, { path: plain, size: h.size(), hash: h.digest().toString('base64url') });
  } finally {
    disarm();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The events of one server's restore: from the agent's own file, or decrypted here and uploaded. */
async function* restoreOn(ctx: RunContext, client: AgentClient, ref: ServiceRef, o: RestoreOptions, id: number | undefined, say: (line: string) => void): AsyncGenerator<BackupEvent> {
  const record = await recordFor(client, ref, o.name, id);
  if (record?.recipient) {
    yield* encryptedRestore(client, ref, record, await identityText(ctx, o.identity, record), say);
    return;
  }
  try {
    yield* restoreBackup(client, ref, o.name, id);
  } catch (err) {
    // The record list may be older than the agent's answer (or no record matched): its word decides.
    if (!(err instanceof BerthError && err.code === 'backup_encrypted')) throw err;
    const again = await recordFor(client, ref, o.name, id);
    if (!again?.recipient) throw err;
    yield* encryptedRestore(client, ref, again, await identityText(ctx, o.identity, again), say);
  }
}

export async function runBackupRestore(ctx: RunContext, o: RestoreOptions, ask: Ask): Promise<number> {
  const id = o.id === undefined ? undefined : backupId(o.id);
  const fleet = await loadFleet(ctx);
  const { service, destination } = fleet.config;
  const name = checkBackupName(fleet.config, o.name);
  const servers = backupServers(fleet.config, name, o.host);
  if (servers.length === 0) throw new UserError(`no server of deploy.yml takes backup ${name}`, undefined, 'usage');
  if (id !== undefined && servers.length > 1) throw new UserError(`deploy backup restore ${name} ${id} needs --host: backup IDs are per server and ${servers.length} servers take ${name}`, undefined, 'usage');
  const which = id === undefined ? 'its newest good backup' : `backup #${id}`;
  await confirm(ctx, o, `This replaces the data of ${dataOf(fleet.config, name)} on ${servers.map(formatServerAddress).join(', ')} with ${which}.`, ask);
  const say = (line: string) => (ctx.json ? undefined : ctx.printer.err(line));
  const outcomes = await onEveryServer(fleet, async (client, host) => {
    let ended: BackupRecord | undefined;
    let restored = false;
    for await (const e of restoreOn(ctx, client, { service, destination }, o, id, say)) {
      if (ctx.json) ctx.printer.json({ host, ...e });
      else ctx.printer.err(eventLine(host, e));
      if (e.event === 'ended') {
        ended = e.record;
        restored = e.restored === true;
      }
    }
    if (!ended) throw new UpstreamError(`${host}: the restore's events ended without its result`);
    if (!restored) throw new UpstreamError(`${host}: ${name} was not restored (the agent's last word: ${ended.outcome})`);
    if (!ctx.json) ctx.printer.out(`${runSummary(host, ended, ctx.style)}: restored`);
    return ended;
  }, { servers });
  const failure = hostsFailure(outcomes, { doing: `restore ${name}` });
  if (failure) throw failure;
  return 0;
}

export const backupRestore = (ctx: RunContext, o: RestoreOptions): Promise<number> => runBackupRestore(ctx, o, askLine);
