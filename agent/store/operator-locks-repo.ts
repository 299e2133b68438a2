// Operator locks (`deploy lock acquire`): a person saying "hands off this
// service" until someone releases it. acceptRelease refuses deploys while one
// is held; taking and releasing one are audited in the same transaction.
import type { OperatorLock } from '../../shared/api-types.js';
import { ConflictError, NotFoundError, UserError } from '../../shared/errors.js';
import { manifestSubject } from '../../shared/manifest.js';
import { MAX_LOCK_MESSAGE_CHARS, checkOperatorMessage } from '../../shared/operator-text.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';

type LockRow = { service: string; destination: string; key_id: string; message: string; since: string; comment: string | null };

export interface LockInput {
  service: string;
  destination: string;
  keyId: string;
}

const LOCKED_DEPLOY_HINT = 'deploy lock release, or push with --lock-wait SECONDS';

/**
 * The message of the hold `deploy remove` takes (agent/store/removal-repo.ts).
 * acquire refuses it, so an operator lock never looks like a removal hold.
 */
export const REMOVAL_MESSAGE = 'removing the service (deploy remove)';
export const isRemovalHold = (lock: OperatorLock): boolean => lock.message === REMOVAL_MESSAGE;

/** The lock on a service with its holder's comment (from trusted_keys), or null. */
export function readOperatorLock(db: Db, service: string, destination: string): OperatorLock | null {
  const r = db.get<LockRow>(
    `SELECT l.service, l.destination, l.key_id, l.message, l.since, k.comment FROM operator_locks l
     LEFT JOIN trusted_keys k ON k.kid = l.key_id WHERE l.service = ? AND l.destination = ?`,
    service, destination,
  );
  if (!r) return null;
  return {
    service: r.service,
    destination: r.destination,
    key_id: r.key_id,
    ...(r.comment !== null ? { key_comment: r.comment } : {}),
    message: r.message,
    since: r.since,
  };
}

/** `<svc> is locked by key <kid> (<comment>) since <iso>: <message>` (docs/internals.md "Operator locks"). */
export function describeOperatorLock(lock: OperatorLock): string {
  return `${manifestSubject(lock.service, lock.destination)} is locked by key ${holder(lock)} since ${lock.since}: ${lock.message}`;
}

const holder = (lock: OperatorLock) =>
  lock.key_comment !== undefined ? `${lock.key_id} (${lock.key_comment})` : `${lock.key_id} (a key no longer trusted here)`;

export function lockedError(lock: OperatorLock, hint: string): ConflictError {
  return new ConflictError(describeOperatorLock(lock), hint, 'locked');
}

/** A removal hold met by a push, a lock release or a second removal. */
export function removingError(lock: OperatorLock, hint: string): ConflictError {
  return new ConflictError(`${manifestSubject(lock.service, lock.destination)} is being removed by key ${holder(lock)} since ${lock.since}`, hint, 'locked');
}

/** What a deploy meets while the service is held: a removal says so, not "release the lock". */
export function deployBlockedError(lock: OperatorLock): ConflictError {
  return isRemovalHold(lock)
    ? removingError(lock, 'a removal (deploy remove) is in progress; push again once it has finished')
    : lockedError(lock, LOCKED_DEPLOY_HINT);
}

export function createOperatorLocksRepo(db: Db, now: () => number) {
  return {
    get: (service: string, destination: string): OperatorLock | null => readOperatorLock(db, service, destination),

    /** Takes the lock; ConflictError `locked` naming the holder when it is already held (by anyone). */
    acquire(a: LockInput & { message: string }): OperatorLock {
      const message = checkOperatorMessage(a.message, 'lock message', MAX_LOCK_MESSAGE_CHARS);
      if (message === REMOVAL_MESSAGE) throw new UserError('that lock message is reserved for deploy remove', 'say why the service is locked');
      return db.transaction(() => {
        const held = readOperatorLock(db, a.service, a.destination);
        if (held && isRemovalHold(held)) throw removingError(held, 'wait for the removal to finish');
        if (held) throw lockedError(held, 'wait for its holder to release it, or `deploy lock release` if it is stale');
        const nowMs = now();
        db.run(
          'INSERT INTO operator_locks (service, destination, key_id, message, since) VALUES (?, ?, ?, ?, ?)',
          a.service, a.destination, a.keyId, message, new Date(nowMs).toISOString(),
        );
        insertAudit(db, nowMs, { keyId: a.keyId, action: 'lock.acquired', service: a.service, destination: a.destination, detail: { message } });
        const lock = readOperatorLock(db, a.service, a.destination);
        if (!lock) throw new Error('operator lock vanished inside its own transaction');
        return lock;
      });
    },

    /**
     * Releases whoever's lock it is (like `kamal lock release`); NotFoundError
     * when none is held. Never a removal hold: lifting it would let a push land
     * mid-removal, which needs admin scope; `deploy remove` again takes over a
     * hold an agent restart left behind.
     */
    release(a: LockInput): OperatorLock {
      return db.transaction(() => {
        const held = readOperatorLock(db, a.service, a.destination);
        if (!held) throw new NotFoundError(`${manifestSubject(a.service, a.destination)} is not locked on this server`);
        if (isRemovalHold(held)) {
          throw removingError(held, 'wait for the removal to finish; if the agent restarted during it, run deploy remove again to finish it');
        }
        db.run('DELETE FROM operator_locks WHERE service = ? AND destination = ?', a.service, a.destination);
        insertAudit(db, now(), {
          keyId: a.keyId,
          action: 'lock.released',
          service: a.service,
          destination: a.destination,
          detail: { holder: held.key_id, since: held.since, message: held.message },
        });
        return held;
      });
    },
  };
}
