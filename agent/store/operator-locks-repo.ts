// Operator locks (`deploy lock acquire`): a person saying "hands off this
// service" until someone releases it. acceptRelease refuses deploys while one
// is held; taking and releasing one are audited in the same transaction.
import type { OperatorLock } from '../../shared/api-types.js';
import { ConflictError, NotFoundError } from '../../shared/errors.js';
import { MAX_LOCK_MESSAGE_CHARS, checkOperatorMessage } from '../../shared/operator-text.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';

type LockRow = { service: string; destination: string; key_id: string; message: string; since: string; comment: string | null };

export interface LockInput {
  service: string;
  destination: string;
  keyId: string;
}

export const LOCKED_DEPLOY_HINT = 'deploy lock release, or push with --lock-wait SECONDS';

const label = (service: string, destination: string) => (destination ? `${service}@${destination}` : service);

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

/** `<svc> is locked by key <kid> (<comment>) since <iso>: <message>` (docs/internals.md, issue 4 contract). */
export function describeOperatorLock(lock: OperatorLock): string {
  const who = lock.key_comment !== undefined ? `${lock.key_id} (${lock.key_comment})` : `${lock.key_id} (a key no longer trusted here)`;
  return `${label(lock.service, lock.destination)} is locked by key ${who} since ${lock.since}: ${lock.message}`;
}

export function lockedError(lock: OperatorLock, hint: string): ConflictError {
  return new ConflictError(describeOperatorLock(lock), hint, 'locked');
}

export function createOperatorLocksRepo(db: Db, now: () => number) {
  return {
    get: (service: string, destination: string): OperatorLock | null => readOperatorLock(db, service, destination),

    /** Takes the lock; ConflictError `locked` naming the holder when it is already held (by anyone). */
    acquire(a: LockInput & { message: string }): OperatorLock {
      const message = checkOperatorMessage(a.message, 'lock message', MAX_LOCK_MESSAGE_CHARS);
      return db.transaction(() => {
        const held = readOperatorLock(db, a.service, a.destination);
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

    /** Releases whoever's lock it is (like `kamal lock release`); NotFoundError when none is held. */
    release(a: LockInput): OperatorLock {
      return db.transaction(() => {
        const held = readOperatorLock(db, a.service, a.destination);
        if (!held) throw new NotFoundError(`${label(a.service, a.destination)} is not locked on this server`);
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
