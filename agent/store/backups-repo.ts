// Backup runs (agent/backups/): one row per run, the file it stored (a path
// under one of the agent's backup roots) and what was measured of it. A row
// counts as a good backup only with outcome `ok` and its file still stored.
// Schedule state: the last slot handled, so a restart catches a missed one up
// once (as cron does). Times are ms since the epoch here, ISO 8601 on the wire.
import type { EventEmitter } from 'node:events';
import type { BackupOutcome, BackupRecord, BackupTrigger, BackupVerifyResult } from '../../shared/api-types.js';
import type { BackupCompression, BackupKind } from '../../shared/manifest-backups.js';
import { insertAudit, type AuditInput } from './audit-repo.js';
import type { Db } from './db.js';

/** Failed and interrupted rows kept per backup (good ones are bounded by retention). */
export const MAX_FAILED_BACKUP_ROWS = 100;
const MAX_TEXT_CHARS = 4000;

export interface BackupRef {
  service: string;
  destination: string;
  backup: string;
}

export interface NewBackupRun extends BackupRef {
  kind: BackupKind;
  trigger: BackupTrigger;
  compression: BackupCompression;
  recipient: string | null;
  release: string | null;
  forRelease: string | null;
  image: string | null;
}

export interface BackupRunEnd {
  outcome: Exclude<BackupOutcome, 'running'>;
  reason: string;
  /** The stored file's absolute path (null when nothing is stored). */
  file: string | null;
  size: number | null;
  rawSize: number | null;
  sha256: string | null;
  plainSha256: string | null;
  verify: BackupVerifyResult | null;
  verifyOutput: string;
  /** Recorded in the same transaction: a failed run's audit row. */
  audit?: AuditInput;
}

interface Row {
  id: number; service: string; destination: string; backup: string; kind: string; trigger: string;
  started_at: number; ended_at: number | null; outcome: string; reason: string; file: string | null;
  size: number | null; raw_size: number | null; sha256: string | null; plain_sha256: string | null;
  compression: string; recipient: string | null; release: string | null; for_release: string | null;
  image: string | null; verify: string | null; verify_output: string; notify: string | null; stored: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const bounded = (text: string) => (text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS)}…` : text);

/** A record and, agent-side only, where its file is. */
export interface StoredBackup {
  record: BackupRecord;
  file: string | null;
}

function toStored(r: Row): StoredBackup {
  return {
    file: r.file,
    record: {
      id: r.id, service: r.service, destination: r.destination, backup: r.backup, kind: r.kind as BackupKind,
      trigger: r.trigger as BackupTrigger, started_at: iso(r.started_at) as string, ended_at: iso(r.ended_at),
      duration_ms: r.ended_at === null ? null : r.ended_at - r.started_at, outcome: r.outcome as BackupOutcome,
      reason: r.reason, size: r.size, raw_size: r.raw_size, sha256: r.sha256, plain_sha256: r.plain_sha256,
      compression: r.compression as BackupCompression, recipient: r.recipient, release: r.release,
      for_release: r.for_release, image: r.image, verify: r.verify as BackupVerifyResult | null,
      verify_output: r.verify_output, notify: r.notify, stored: r.stored === 1,
    },
  };
}

type R = Row & Record<string, unknown>;

/** The bus event of a backup run that ended (its BackupRecord), after its transaction committed. */
export const BACKUP_ENDED = 'backup-ended';

export function createBackupsRepo(db: Db, now: () => number, bus?: EventEmitter) {
  const get = (id: number): StoredBackup | undefined => {
    const row = db.get<R>('SELECT * FROM backups WHERE id = ?', id);
    return row ? toStored(row) : undefined;
  };
  return {
    get,
    start(r: NewBackupRun): BackupRecord {
      const { lastInsertRowid } = db.run(
        `INSERT INTO backups (service, destination, backup, kind, trigger, started_at, outcome, compression, recipient, release, for_release, image)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
        r.service, r.destination, r.backup, r.kind, r.trigger, now(), r.compression, r.recipient, r.release, r.forRelease, r.image,
      );
      return (get(lastInsertRowid) as StoredBackup).record;
    },
    /** Ends a running row (one already ended keeps its first ending); prunes old failed rows of the backup. */
    finish(id: number, end: BackupRunEnd): BackupRecord | undefined {
      const ended = db.transaction(() => {
        const changed = db.run(
          `UPDATE backups SET ended_at = ?, outcome = ?, reason = ?, file = ?, size = ?, raw_size = ?, sha256 = ?, plain_sha256 = ?,
             verify = ?, verify_output = ?, stored = ? WHERE id = ? AND outcome = 'running'`,
          now(), end.outcome, bounded(end.reason), end.file, end.size, end.rawSize, end.sha256, end.plainSha256,
          end.verify, bounded(end.verifyOutput), end.file === null ? 0 : 1, id,
        ).changes;
        const row = get(id);
        if (changed === 1 && row) {
          if (end.audit) insertAudit(db, now(), end.audit);
          const { service, destination, backup } = row.record;
          db.run(
            `DELETE FROM backups WHERE service = ? AND destination = ? AND backup = ? AND outcome IN ('failed', 'interrupted') AND stored = 0 AND id <= (
               SELECT id FROM backups WHERE service = ? AND destination = ? AND backup = ? AND outcome IN ('failed', 'interrupted') AND stored = 0
               ORDER BY id DESC LIMIT 1 OFFSET ?)`,
            service, destination, backup, service, destination, backup, MAX_FAILED_BACKUP_ROWS,
          );
        }
        return { record: row?.record, changed };
      });
      if (ended.changed === 1 && ended.record) bus?.emit(BACKUP_ENDED, ended.record);
      return ended.record;
    },
    setNotify(id: number, text: string): void {
      db.run('UPDATE backups SET notify = ? WHERE id = ?', bounded(text), id);
    },
    /** Its file was deleted (retention, or found missing): the row stays as history, no longer stored. */
    markDeleted(id: number, audit?: AuditInput): void {
      db.transaction(() => {
        db.run('UPDATE backups SET stored = 0 WHERE id = ?', id);
        if (audit) insertAudit(db, now(), audit);
      });
    },
    /** Newest first; `backup` undefined lists every backup of the service. */
    list(ref: Omit<BackupRef, 'backup'> & { backup?: string | undefined }, limit: number): StoredBackup[] {
      const rows = ref.backup === undefined
        ? db.all<R>('SELECT * FROM backups WHERE service = ? AND destination = ? ORDER BY id DESC LIMIT ?', ref.service, ref.destination, limit)
        : db.all<R>('SELECT * FROM backups WHERE service = ? AND destination = ? AND backup = ? ORDER BY id DESC LIMIT ?', ref.service, ref.destination, ref.backup, limit);
      return rows.map(toStored);
    },
    /** The newest backup that counts: outcome ok and its file stored. */
    newestGood(ref: BackupRef): StoredBackup | undefined {
      const row = db.get<R>(
        `SELECT * FROM backups WHERE service = ? AND destination = ? AND backup = ? AND outcome = 'ok' AND stored = 1 ORDER BY id DESC LIMIT 1`,
        ref.service, ref.destination, ref.backup,
      );
      return row ? toStored(row) : undefined;
    },
    /** Every row that still has a file, newest first (retention reads it). */
    storedRows(ref: BackupRef): StoredBackup[] {
      return db
        .all<R>('SELECT * FROM backups WHERE service = ? AND destination = ? AND backup = ? AND stored = 1 ORDER BY id DESC', ref.service, ref.destination, ref.backup)
        .map(toStored);
    },
    /** Rows a previous agent process left `running`: it stopped during them. */
    interruptRunning(reason: string, auditFor: (r: BackupRecord) => AuditInput): BackupRecord[] {
      const interrupted = db.transaction(() => {
        const rows = db.all<R>(`SELECT * FROM backups WHERE outcome = 'running'`).map(toStored);
        for (const { record } of rows) {
          db.run(`UPDATE backups SET ended_at = ?, outcome = 'interrupted', reason = ?, stored = 0 WHERE id = ?`, now(), reason, record.id);
          insertAudit(db, now(), auditFor({ ...record, outcome: 'interrupted', reason }));
        }
        return rows.map((r) => (get(r.record.id) as StoredBackup).record);
      });
      for (const record of interrupted) bus?.emit(BACKUP_ENDED, record);
      return interrupted;
    },
    lastSlot(ref: BackupRef): number | null | undefined {
      return db.get<{ last_slot: number | null }>('SELECT last_slot FROM backup_state WHERE service = ? AND destination = ? AND backup = ?', ref.service, ref.destination, ref.backup)?.last_slot;
    },
    setLastSlot(ref: BackupRef, slot: number | null): void {
      db.run(
        `INSERT INTO backup_state (service, destination, backup, last_slot, since) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (service, destination, backup) DO UPDATE SET last_slot = excluded.last_slot`,
        ref.service, ref.destination, ref.backup, slot, now(),
      );
    },
    /** A removed service: its schedule state goes; its rows and files stay (a removed app's backups are what brings it back). */
    forgetSchedules(service: string, destination: string): void {
      db.run('DELETE FROM backup_state WHERE service = ? AND destination = ?', service, destination);
    },
  };
}

export type BackupsRepo = ReturnType<typeof createBackupsRepo>;
