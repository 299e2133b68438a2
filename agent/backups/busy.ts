// Which backups have a run or a restore under way in this process: one at a
// time per backup (409 backup_busy for the second), and which services are
// being restored (a deploy must not switch releases under a restore).
import { ConflictError } from '../../shared/errors.js';
import type { BackupRef } from '../store/backups-repo.js';

const claimed = new Map<string, string>();
const restoring = new Map<string, number>();

const key = (ref: BackupRef) => JSON.stringify([ref.service, ref.destination, ref.backup]);
const serviceKey = (service: string, destination: string) => JSON.stringify([service, destination]);

/** Claims the backup for `what` (`run`, `restore`); 409 backup_busy when it is claimed. Returns the release. */
export function claim(ref: BackupRef, what: 'run' | 'restore' = 'run'): () => void {
  const k = key(ref);
  const holder = claimed.get(k);
  if (holder !== undefined) {
    throw new ConflictError(`a ${holder} of backup ${ref.backup} is under way`, 'wait for it to end and try again', 'backup_busy');
  }
  claimed.set(k, what);
  const sk = serviceKey(ref.service, ref.destination);
  if (what === 'restore') restoring.set(sk, (restoring.get(sk) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    claimed.delete(k);
    if (what === 'restore') {
      const left = (restoring.get(sk) ?? 1) - 1;
      if (left > 0) restoring.set(sk, left);
      else restoring.delete(sk);
    }
  };
}

export function isClaimed(ref: BackupRef): boolean {
  return claimed.has(key(ref));
}

/** Whether a restore of any backup of the service runs now (a deploy waits or is refused). */
export function restoreUnderWay(service: string, destination: string): boolean {
  return restoring.has(serviceKey(service, destination));
}
