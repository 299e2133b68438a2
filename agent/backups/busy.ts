// Which backups of this agent are being taken or restored right now: one run
// or restore of a backup at a time (a second gets 409 backup_busy), and which
// services are being restored (a release must not switch under a restore: it
// would start the writers the restore stopped). One per agent, held by its
// BackupService, so agents sharing a process (tests) never see each other's.
import { ConflictError } from '../../shared/errors.js';
import type { BackupRef } from '../store/backups-repo.js';

export type BusyWork = 'run' | 'restore';

export interface Busy {
  /** Marks the backup busy; returns the release (idempotent); throws 409 backup_busy when it is busy. */
  claim(ref: BackupRef, what: BusyWork): () => void;
  isBusy(ref: BackupRef): boolean;
  /** Whether a restore of any backup of the service runs now. */
  restoreUnderWay(service: string, destination: string): boolean;
}

const key = (ref: BackupRef) => JSON.stringify([ref.service, ref.destination, ref.backup]);
const serviceKey = (service: string, destination: string) => JSON.stringify([service, destination]);

export function createBusy(): Busy {
  const held = new Map<string, BusyWork>();
  const restoring = new Map<string, number>();
  return {
    claim(ref, what) {
      const k = key(ref);
      const holder = held.get(k);
      if (holder !== undefined) {
        throw new ConflictError(`a ${holder} of backup ${ref.backup} of ${ref.service} is under way`, 'wait for it to end, then try again', 'backup_busy');
      }
      held.set(k, what);
      const sk = serviceKey(ref.service, ref.destination);
      if (what === 'restore') restoring.set(sk, (restoring.get(sk) ?? 0) + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.delete(k);
        if (what !== 'restore') return;
        const left = (restoring.get(sk) ?? 1) - 1;
        if (left > 0) restoring.set(sk, left);
        else restoring.delete(sk);
      };
    },
    isBusy: (ref) => held.has(key(ref)),
    restoreUnderWay: (service, destination) => restoring.has(serviceKey(service, destination)),
  };
}
