// Which backups are being taken or restored right now on this agent: one run
// or restore of a backup at a time (a second gets 409 backup_busy).
import { ConflictError } from '../../shared/errors.js';
import type { BackupRef } from '../store/backups-repo.js';

export interface Busy {
  /** Marks the backup busy with `what` ("a backup", "a restore"); returns the release; throws 409 backup_busy when it is. */
  claim(ref: BackupRef, what: string): () => void;
  isBusy(ref: BackupRef): boolean;
}

const key = (ref: BackupRef) => JSON.stringify([ref.service, ref.destination, ref.backup]);

export function createBusy(): Busy {
  const held = new Map<string, string>();
  return {
    claim(ref, what) {
      const k = key(ref);
      const holder = held.get(k);
      if (holder !== undefined) {
        throw new ConflictError(`backup ${ref.backup} of ${ref.service}: ${holder} of it is under way`, 'wait for it to end, then try again', 'backup_busy');
      }
      held.set(k, what);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.delete(k);
      };
    },
    isBusy: (ref) => held.has(key(ref)),
  };
}
