// What `deploy backup list|run|restore|download` print, as strings made from
// the agents' answers. A failed backup is written in capitals (and red on a
// colour terminal) so it stands out in a long table.

import type { BackupRecord, BackupStatus } from '../../shared/api-types.js';
import type { BackupEvent, BackupsResponse } from '../agent-api/backup-endpoints.js';
import { renderTable } from '../output/table.js';
import { sanitize, type Style } from '../output/style.js';
import { cronDuration, cronSchedule, cronTime } from './cron-render.js';

/** One server's answer: its backups (null: no current release there), or the error it gave. */
export interface HostBackups {
  host: string;
  backups: BackupsResponse | null;
  error?: string;
}

/** `512 B`, `1.5 KiB`, `12.3 MiB`, `2.0 GiB`. */
export function humanSize(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return '-';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function backupOutcome(record: Pick<BackupRecord, 'outcome'>, style: Style): string {
  if (record.outcome === 'ok') return style.green('ok');
  if (record.outcome === 'running') return 'running';
  return style.red(record.outcome.toUpperCase());
}

const verified = (r: BackupRecord) => (r.verify === null ? '-' : r.verify === 'passed' ? 'yes' : 'no');

/** One line per backup of the current release: what it is, when it runs next, its newest good backup. */
function statusLine(b: BackupStatus): string {
  const schedule = b.schedule === null ? 'manual only' : `${cronSchedule({ schedule: b.schedule, timezone: b.timezone })}, next ${cronTime(b.next_run)}`;
  const good = b.newest_good === null ? 'no good backup yet' : `newest good #${b.newest_good}`;
  const flags = [b.encrypted ? 'encrypted' : '', b.verify ? 'verified' : '', b.before_deploy ? 'before deploy' : '', b.running ? 'RUNNING' : ''].filter(Boolean);
  return `  ${sanitize(b.name, 80)} (${b.kind} ${sanitize(b.source, 120)}): ${schedule}; ${good}; keep ${b.keep}${flags.length ? `; ${flags.join(', ')}` : ''}`;
}

/** `deploy backup list`: per server a header block (the backups and their schedules), then its records, newest first. */
export function renderBackupList(hosts: HostBackups[], style: Style): string {
  const out: string[] = [];
  for (const h of hosts) {
    out.push(style.bold(h.host));
    if (h.error !== undefined) {
      out.push(`  ${style.red(`error: ${sanitize(h.error, 300)}`)}`, '');
      continue;
    }
    if (!h.backups || h.backups.release === null) {
      out.push('  no current release', '');
      continue;
    }
    if (h.backups.backups.length === 0) out.push('  the current release has no backups here');
    for (const b of h.backups.backups) out.push(statusLine(b));
    if (h.backups.records.length === 0) out.push('  no backups taken yet');
    else {
      const rows = h.backups.records.map((r) => [
        String(r.id), sanitize(r.backup, 80), cronTime(r.started_at), humanSize(r.size), r.sha256 ? r.sha256.slice(0, 12) : '-',
        verified(r), backupOutcome(r, style) + (r.outcome === 'ok' && !r.stored ? ' (deleted)' : ''), sanitize(r.reason, 120) || '-',
      ]);
      const table = renderTable(['ID', 'NAME', 'WHEN', 'SIZE', 'SHA256', 'VERIFIED', 'OUTCOME', 'REASON'], rows);
      out.push(...table.trimEnd().split('\n').map((l) => `  ${l}`));
    }
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** A progress line of a run or restore. */
export function eventLine(host: string, e: BackupEvent): string {
  if (e.event === 'step') return `${host}: ${sanitize(e.message, 500)}`;
  const r = e.record;
  if (e.event === 'started') return `${host}: ${sanitize(r.backup, 80)} #${r.id} started (${r.trigger})`;
  return `${host}: ${sanitize(r.backup, 80)} #${r.id} ended: ${r.outcome}${e.restored ? ', restored' : ''}`;
}

/** The closing line of a run on one server: `HOST: db #12 ok, 1.2 MiB, sha256 0123456789ab, verified, 3.2s` or the failure and why. */
export function runSummary(host: string, r: BackupRecord, style: Style): string {
  const head = `${host}: ${sanitize(r.backup, 80)} #${r.id} ${backupOutcome(r, style)}`;
  if (r.outcome !== 'ok') return `${head}${r.reason ? `: ${sanitize(r.reason, 500)}` : ''}`;
  const verify = r.verify === 'passed' ? ', verified' : '';
  return `${head}, ${humanSize(r.size)}, sha256 ${r.sha256?.slice(0, 12) ?? '-'}${verify}, ${cronDuration(r.duration_ms)}`;
}
