// PURE: how often this agent lets releases schedule backups (berth-agent run
// --backup-min-interval), checked when a release is accepted so a refused one
// leaves nothing stored. Each backup writes a file: a schedule every second
// with a large `keep` would fill the disk the agent's own state lives on.
import { UserError } from '../../../shared/errors.js';
import { parseCronSchedule } from '../../../shared/cron-schedule.js';
import { formatSeconds } from '../../../shared/manifest-cron.js';
import type { ManifestPayload } from '../../../shared/manifest.js';

export const DEFAULT_BACKUP_MIN_INTERVAL_S = 60;

/** Throws the 400 naming the backup and the agent option when a schedule runs more often than `minIntervalS`. */
export function checkBackupPolicy(m: ManifestPayload, minIntervalS: number): void {
  for (const [name, backup] of Object.entries(m.backups ?? {})) {
    if (backup.schedule === undefined) continue;
    const minMs = parseCronSchedule(backup.schedule, backup.timezone).minGapMs;
    if (minMs < minIntervalS * 1000) {
      throw new UserError(
        `backups.${name}.schedule: ${JSON.stringify(backup.schedule)} runs every ${formatSeconds(minMs / 1000)}; this agent takes a backup at most once every ${formatSeconds(minIntervalS)}`,
        'schedule it less often, or lower berth-agent run --backup-min-interval on the server',
        'backup_refused',
      );
    }
  }
}
