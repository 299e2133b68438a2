// Paused services (`deploy proxy pause`): while a row exists the router holds
// the service's new requests up to `timeout` seconds each (agent/core/routes.ts
// merges these rows into every route set sent). Each change records its audit
// row in the same transaction.
import type { PauseState } from '../../shared/api-types.js';
import { insertAudit } from './audit-repo.js';
import type { Db } from './db.js';

type PauseRow = PauseState & Record<string, unknown>;

export interface PauseOn {
  service: string;
  destination: string;
  keyId: string;
  timeout: number;
}

export interface PauseOff {
  service: string;
  destination: string;
  keyId: string;
}

const toState = (r: PauseRow): PauseState => ({
  service: r.service,
  destination: r.destination,
  key_id: r.key_id,
  timeout: r.timeout,
  since: r.since,
});

export function createPauseRepo(db: Db, now: () => number) {
  const get = (service: string, destination: string): PauseState | null => {
    const row = db.get<PauseRow>('SELECT * FROM pauses WHERE service = ? AND destination = ?', service, destination);
    return row ? toState(row) : null;
  };

  return {
    get,
    all(): PauseState[] {
      return db.all<PauseRow>('SELECT * FROM pauses ORDER BY service, destination').map(toState);
    },
    /** Pauses, or changes the timeout of a pause (keeping `since`). The same timeout again records nothing. */
    set(on: PauseOn): PauseState {
      return db.transaction(() => {
        const before = get(on.service, on.destination);
        if (before && before.timeout === on.timeout) return before;
        const nowMs = now();
        const since = before?.since ?? new Date(nowMs).toISOString();
        db.run(
          `INSERT INTO pauses (service, destination, key_id, timeout, since) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (service, destination) DO UPDATE SET key_id = excluded.key_id, timeout = excluded.timeout`,
          on.service, on.destination, on.keyId, on.timeout, since,
        );
        insertAudit(db, nowMs, {
          keyId: on.keyId,
          action: 'proxy.pause',
          service: on.service,
          destination: on.destination,
          detail: before ? { timeout: on.timeout, previous_timeout: before.timeout } : { timeout: on.timeout },
        });
        return { service: on.service, destination: on.destination, key_id: on.keyId, timeout: on.timeout, since };
      });
    },
    /** Resumes; returns the pause that ended, or null (recording nothing) when there was none. */
    clear(off: PauseOff): PauseState | null {
      return db.transaction(() => {
        const before = get(off.service, off.destination);
        if (!before) return null;
        db.run('DELETE FROM pauses WHERE service = ? AND destination = ?', off.service, off.destination);
        insertAudit(db, now(), {
          keyId: off.keyId,
          action: 'proxy.resume',
          service: off.service,
          destination: off.destination,
          detail: { since: before.since, timeout: before.timeout },
        });
        return before;
      });
    },
  };
}
